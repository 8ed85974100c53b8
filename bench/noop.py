"""The HTTP ceiling: a FastAPI endpoint that reads the JSON body and answers 202.

`python -m bench.noop PORT` serves it with uvicorn as `vagt api` serves Vagt.
"""

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.post("/v2/enqueue", status_code=202)
async def enqueue(event: dict[str, Any]) -> dict[str, str]:
    return {"status": "success", "message": "Event processed", "dedup_key": "noop"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", http="httptools")
