"""Placeholder secrets: what an example file ships with must never reach production.

`.env.example` holds `change-me` for every secret, so a deployment that forgot to set
one starts with a value that anyone who read the repository knows. Outside development,
the API and the worker refuse to start with such a value, naming each one and saying
how to make a good one.
"""

import re
from collections.abc import Iterator

from pydantic import SecretStr
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from domain.channels import EmailChannel, WebhookChannel
from domain.process import ProcessDocument
from vagt.settings import Settings

# A bearer token guessed in 2^128 tries; `openssl rand -hex 32` gives 64 characters.
MIN_TOKEN_LENGTH = 32

# Compared with letters and digits only, lower case: "Change_Me!" is "changeme".
_PLACEHOLDERS = frozenset(
    {
        "",
        "admin",
        "changeit",
        "changeme",
        "default",
        "dummy",
        "example",
        "fixme",
        "pass",
        "passw0rd",
        "password",
        "placeholder",
        "postgres",
        "replaceme",
        "secret",
        "temporal",
        "test",
        "todo",
        "token",
        "vagt",
    }
)
_PLACEHOLDER_PARTS = (
    "changeme",
    "replaceme",
    "replacewith",
    "placeholder",
    "yoursecret",
    "yourtoken",
)
# "<your token>", "${TOKEN}", "{{ token }}": a template that was never filled in.
_TEMPLATE = re.compile(r"^\s*(<.*>|\$\{.*\}|\{\{.*\}\})\s*$")

HOW_TO_FIX = (
    "set a random value, for example the output of `openssl rand -hex 32`, or run with "
    "VAGT_ENVIRONMENT=development on a machine of your own"
)


def is_placeholder(value: str) -> bool:
    """Whether `value` is a stand-in rather than a secret: empty, a word example files
    use ("change-me", "secret", "password"), a template never filled in, or one
    character repeated."""
    if _TEMPLATE.match(value):
        return True
    letters = re.sub(r"[^a-z0-9]", "", value.lower())
    if letters in _PLACEHOLDERS or len(set(letters)) <= 1:
        return True
    return any(part in letters for part in _PLACEHOLDER_PARTS)


def production_problems(settings: Settings, process: ProcessDocument) -> list[str]:
    """What stops this configuration from running outside development; empty in
    development, where generated and example secrets are fine."""
    if settings.environment == "development":
        return []
    return list(_problems(settings, process))


def _problems(settings: Settings, process: ProcessDocument) -> Iterator[str]:
    token = settings.admin_token
    if token is None:
        yield (
            "VAGT_ADMIN_TOKEN is unset: outside development it is required, because a "
            "generated token would be saved on one replica's disk only"
        )
    elif is_placeholder(token.get_secret_value()):
        yield "VAGT_ADMIN_TOKEN is a placeholder"
    elif len(token.get_secret_value()) < MIN_TOKEN_LENGTH:
        yield f"VAGT_ADMIN_TOKEN has fewer than {MIN_TOKEN_LENGTH} characters"
    if settings.database_url is not None:
        password = _url_password(settings.database_url)
        if password is not None and is_placeholder(password):
            yield "the password in VAGT_DATABASE_URL is a placeholder"
    for name, channel in process.channels.items():
        secret: SecretStr | None = None
        field = ""
        if isinstance(channel, WebhookChannel):
            secret, field = channel.secret, "secret"
        elif isinstance(channel, EmailChannel):
            secret, field = channel.password, "password"
        if secret is not None and is_placeholder(secret.get_secret_value()):
            yield f"the {field} of channel {name!r} in the process file is a placeholder"


def _url_password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None  # the database layer reports a malformed URL itself
