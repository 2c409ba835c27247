"""The floor: a bare FastAPI app with one trivial route, served by the same uvicorn as the server
(bench/bench_floor.py starts it with the same worker count). Nothing of Carnet is imported."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}
