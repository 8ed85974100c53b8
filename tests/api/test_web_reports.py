"""The console's reports page and its CSV exports, on the hand-worked incidents of
tests.store.test_reports (see there for every figure)."""

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from store.users import UserRepository
from tests.api.conftest import Api
from tests.api.test_web import PASSWORD, Browser
from tests.store.test_reports import project, recurring, the_three

# The first fortnight: the three incidents and the three disk-full ones.
FORTNIGHT = "from=2025-03-03&to=2025-03-16"


@pytest.fixture
async def browser(api: Api) -> AsyncIterator[Browser]:
    """A browser, not signed in yet; vic (a viewer) has a password. The read model
    holds the hand-worked incidents."""
    async with api.database.session() as session:
        await UserRepository(session).set_password("vic", PASSWORD)
        await session.commit()
    await project(api.database, the_three() + recurring())
    async with httpx.AsyncClient(transport=api.transport, base_url="http://vagt") as http:
        yield Browser(http)


class TestReportsPage:
    async def test_the_figures_chart_and_links_of_a_period(self, browser: Browser) -> None:
        await browser.sign_in("vic")

        page = await browser.get(f"/reports?{FORTNIGHT}")

        assert page.status_code == 200, page.text
        html = page.text
        assert "6 incidents declared" in html
        # 5 h, 1 h, 2 h and 1 h to resolve: mean 2h 15m, median 1h 30m, p90 5h.
        assert "2h 15m mean · 1h 30m median · 5h 0m p90" in html
        # The acknowledge clock: #1 met, #2 breached.
        assert "<td>acknowledge</td><td>1</td><td>1</td><td>0</td>" in html
        assert "<td>50.0%</td>" in html
        # Per week from Monday: three opened in each.
        assert "<tr><td>2025-03-03</td><td>3</td><td>1</td></tr>" in html
        assert '<rect class="opened"' in html
        # disk-full came back: #4, #5 and #6 with links to them.
        assert "prometheus · disk-full" in html
        assert '<a href="/incidents/6">#6</a>' in html
        # #1's review has one action item for alice, due 2025-04-01 (overdue by now).
        assert "Monitor it · alice, due 2025-04-01" in html
        assert f'href="/reports.csv?table=volume&amp;{FORTNIGHT.replace("&", "&amp;")}"' in html

    async def test_every_table_downloads_as_csv(self, browser: Browser) -> None:
        await browser.sign_in("vic")

        volume = await browser.get(f"/reports.csv?table=volume&{FORTNIGHT}&period=week")
        overdue = await browser.get("/reports.csv?table=overdue")
        unknown = await browser.get("/reports.csv?table=everything")

        assert volume.headers["content-type"] == "text/csv; charset=utf-8"
        assert list(csv.DictReader(io.StringIO(volume.text))) == [
            {"period_start": "2025-03-03", "opened": "3", "closed": "1"},
            {"period_start": "2025-03-10", "opened": "3", "closed": "0"},
        ]
        [item] = list(csv.DictReader(io.StringIO(overdue.text)))
        assert (item["owner"], item["description"]) == ("alice", "Monitor it")
        assert unknown.status_code == 422

    async def test_the_page_needs_a_session(self, browser: Browser) -> None:
        page = await browser.http.get("/reports")

        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/reports"

    async def test_a_backwards_period_says_what_to_change(self, browser: Browser) -> None:
        await browser.sign_in("vic")

        page = await browser.get("/reports?from=2025-03-16&to=2025-03-01")

        assert page.status_code == 422
        assert "must be before" in page.text
        far = await browser.get("/reports?to=9999-12-31")
        assert far.status_code == 422
        assert "between 1970 and 2199" in far.text
