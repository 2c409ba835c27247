"""A loopback TCP proxy that drops, cuts or delays a share of requests, deterministically (seeded).

Standard library only (asyncio), run on its own thread::

    with FlakyProxy(upstream_port, seed=7, drop=0.15, lose_answer=0.15, delay=0.2) as proxy:
        client talks to proxy.url

For each chunk the client sends (one HTTP request, for the small requests the
app makes) the proxy draws one fate from its seeded generator, in arrival order:

* ``drop``: the connection is closed before the request reaches the server;
* ``lose_answer``: the request reaches the server, but the connection is cut
  before its answer reaches the client (the write happened; the phone doesn't know);
* ``delay``: the request waits ``delay_seconds`` before going on;
* otherwise it passes.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

__all__ = ["FlakyProxy"]


@dataclass
class _Fate:
    rng: random.Random
    drop: float
    lose_answer: float
    delay: float
    counts: Counter[str] = field(default_factory=Counter)

    def draw(self) -> str:
        roll = self.rng.random()
        if roll < self.drop:
            fate = "drop"
        elif roll < self.drop + self.lose_answer:
            fate = "lose_answer"
        elif roll < self.drop + self.lose_answer + self.delay:
            fate = "delay"
        else:
            fate = "pass"
        self.counts[fate] += 1
        return fate


class FlakyProxy:
    def __init__(self, upstream_port: int, *, seed: int, drop: float = 0.1, lose_answer: float = 0.1,
                 delay: float = 0.1, delay_seconds: float = 0.3, host: str = "127.0.0.1") -> None:
        self.upstream = (host, upstream_port)
        self.host = host
        self.delay_seconds = delay_seconds
        self.fate = _Fate(random.Random(seed), drop, lose_answer, delay)
        self.enabled = True
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="flaky-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._lock = asyncio.Lock()
        self._open: set[asyncio.StreamWriter] = set()  # both ends of every connection passing through

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def counts(self) -> Counter[str]:
        return self.fate.counts

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, self.host, 0), self._loop).result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def cut_all(self) -> int:
        """Close every connection open through the proxy, at both ends (a network drop both sides see); new
        connections pass as before. Returns how many were open."""

        async def cut() -> int:
            writers = list(self._open)
            for writer in writers:
                writer.close()
            return len(writers) // 2

        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(timeout=10)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        cut_answer = asyncio.Event()
        closed = asyncio.Event()
        self._open.update((client_w, server_w))

        def close_all() -> None:
            closed.set()
            for writer in (client_w, server_w):
                writer.close()
                self._open.discard(writer)

        async def upstream() -> None:
            try:
                while not closed.is_set():
                    chunk = await client_r.read(65536)
                    if not chunk:
                        break
                    async with self._lock:  # fates are drawn in arrival order
                        fate = self.fate.draw() if self.enabled else "pass"
                    if fate == "drop":
                        close_all()
                        return
                    if fate == "delay":
                        await asyncio.sleep(self.delay_seconds)  # the network being slow, not a test wait
                    if fate == "lose_answer":
                        cut_answer.set()
                    server_w.write(chunk)
                    await server_w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                close_all()

        async def downstream() -> None:
            try:
                while not closed.is_set():
                    chunk = await server_r.read(65536)
                    if not chunk:
                        break
                    if cut_answer.is_set():
                        close_all()
                        return
                    client_w.write(chunk)
                    await client_w.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                close_all()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)
