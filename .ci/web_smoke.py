"""The FastAPI example as a user runs it from the wheel with the ``[web]`` extra (run by .ci/package).

A simulator in this process; an upscale made on it; ``uvicorn fastapi_app:app`` in a subprocess,
pointed at the simulator by the environment; one inpaint posted to the app (202), then its state
read until it is done. Usage: ``python .ci/web_smoke.py EXAMPLES_DIR`` (exit 0: it worked).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys

import aiohttp

from imaginepro_async import ImagineProClient
from imaginepro_async.testing import Simulator, make_mask

SCALE = 100.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _main(examples: str) -> None:
    async with Simulator(time_scale=SCALE) as sim:
        async with ImagineProClient(sim.api_key, base_url=sim.url, time_scale=SCALE) as client:
            grid = await (await client.imagine("a quiet harbour"))
            parent = await (await client.upscale(grid, 1))
        env = os.environ | {
            "IMAGINEPRO_API_KEY": sim.api_key,
            "IMAGINEPRO_BASE_URL": sim.url,
            "IMAGINEPRO_TIME_SCALE": str(SCALE),
        }
        port = _free_port()
        app = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", examples,
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            env=env,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(300):  # up to 30 s for the app to start
                    try:
                        async with http.get(f"{url}/jobs/none") as answer:
                            if answer.status == 404:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise SystemExit("the FastAPI example did not start")
                mask = base64.b64encode(make_mask(1024, 1024)).decode()
                body = {"parent": parent.message_id, "mask": mask, "prompt": "a red boat"}
                async with http.post(f"{url}/inpaint", json=body) as answer:
                    if answer.status != 202:
                        raise SystemExit(f"POST /inpaint: {answer.status} {await answer.text()}")
                    submission = (await answer.json())["id"]
                for _ in range(600):  # up to 60 s for the job (about 1 s at this scale)
                    async with http.get(f"{url}/jobs/{submission}") as answer:
                        view = await answer.json()
                    if view["status"] in ("DONE", "FAIL") and view["uri"] is not None:
                        break
                    if view["error"]:
                        raise SystemExit(f"the submission failed: {view['error']}")
                    await asyncio.sleep(0.1)
                else:
                    raise SystemExit(f"the inpaint did not end: {view}")
                print(f"web example from the wheel: inpaint {view['message_id']} DONE")
        finally:
            app.terminate()
            await asyncio.wait_for(app.wait(), timeout=15)


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
