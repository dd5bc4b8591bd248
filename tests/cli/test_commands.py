"""The command line's job and read commands, each in a subprocess against a simulator."""

from __future__ import annotations

import io
import json
import signal
import socket
import subprocess
from pathlib import Path

import anyio
import pytest
from rich.console import Console
from rich.progress import Progress

from imaginepro_async import (
    BatchProgress,
    InvalidMaskError,
    Mask,
    Message,
    RequestState,
    Status,
    __version__,
)
from imaginepro_async._cli.app import _parser, main
from imaginepro_async._cli.batch import live_columns, live_layout
from imaginepro_async._cli.common import cli_terms
from imaginepro_async._cli.jobs import piped_mark
from imaginepro_async._masks.codec import read_mask_text
from imaginepro_async.testing import Simulator, fixed_duration, make_mask
from tests.batch.conftest import make_world

from .conftest import CLI, World, cli_env, run_cli

pytestmark = pytest.mark.anyio


async def test_version_is_printed() -> None:
    """--version prints the package's version and exits 0."""
    done = await run_cli(None, Path.cwd(), "--version")
    assert done.code == 0
    assert done.out.strip() == f"imaginepro-async {__version__}"


async def test_from_a_prompt_to_an_inpainting(world: World) -> None:
    """imagine, upscale (with --download), mask --image and inpaint chain with -q, no Python."""
    sim, tmp = world.sim, world.tmp
    grid = await run_cli(sim, tmp, "imagine", "a harbour at dawn", "-q")
    assert grid.code == 0, grid.err
    grid_id = grid.out.strip()
    up = await run_cli(sim, tmp, "upscale", grid_id, "1", "-q", "--download", "up.png")
    assert up.code == 0, up.err
    drawn = await run_cli(
        sim, tmp, "mask", "--image", "up.png", "--ellipse", "0.5", "0.5", "0.9", "0.9",
        "--relative", "-o", "boat.png",
    )  # fmt: skip
    assert drawn.code == 0, drawn.err
    done = await run_cli(
        sim, tmp, "inpaint", "--parent", up.out.strip(), "--mask", "boat.png", "--prompt",
        "a red boat", "--json", "--download", "result.png",
    )  # fmt: skip
    assert done.code == 0, done.err
    message = json.loads(done.out)
    assert message["status"] == "DONE"
    assert message["originatingMessageId"] == up.out.strip()
    assert (tmp / "result.png").read_bytes().startswith(b"\x89PNG")
    varied = await run_cli(sim, tmp, "vary", grid_id, "2", "--no-wait")
    assert varied.code == 0, varied.err
    pressed = await run_cli(sim, tmp, "press", up.out.strip(), "Zoom Out 2x")
    assert pressed.code == 0, pressed.err
    assert "status:    DONE" in pressed.out
    progress = [line for line in pressed.err.splitlines() if line.endswith("%")]
    assert 2 <= len(progress) <= 8, pressed.err  # piped: status changes and 25 % steps only


async def test_account_history_and_check_prompt(world: World) -> None:
    """account and history read the account (plain and --json); check-prompt exits 0 or 1."""
    sim, tmp = world.sim, world.tmp
    account = await run_cli(sim, tmp, "account", "--json")
    assert account.code == 0, account.err
    assert json.loads(account.out)["credits"] == sim.credits()
    history = await run_cli(sim, tmp, "history", "--size", "5")
    assert history.code == 0, history.err
    assert world.parent in history.out
    listed = await run_cli(sim, tmp, "history", "--json")
    assert any(entry["id"] == world.parent for entry in json.loads(listed.out))
    fine = await run_cli(sim, tmp, "check-prompt", "a quiet harbour")
    assert (fine.code, fine.out.strip()) == (0, "accepted")
    bad_size = await run_cli(sim, tmp, "history", "--size", "0")
    assert bad_size.code == 2


async def test_a_failed_job_exits_1_and_an_unreachable_server_3(tmp_path: Path) -> None:
    """A job that ends FAIL exits 1 with the reason; a server that is not there exits 3."""
    async with Simulator(time_scale=600, seed=1, failure_rate=1.0) as sim:
        failed = await run_cli(sim, tmp_path, "imagine", "a lighthouse")
    assert failed.code == 1
    assert "simulated failure" in failed.err
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = cli_env(None, tmp_path, IMAGINEPRO_API_KEY="sk-test-key", IMAGINEPRO_TIME_SCALE="1000")
    gone = await run_cli(
        None, tmp_path, "account", "--base-url", f"http://127.0.0.1:{port}", env=env
    )
    assert gone.code == 3, gone.err
    assert gone.err.startswith("error: ")


async def test_usage_errors_speak_in_cli_terms(tmp_path: Path) -> None:
    """No key, a bad --time-scale or base URL, a leftover time scale: exit 2 naming the option."""
    env = cli_env(None, tmp_path)
    env.pop("IMAGINEPRO_API_KEY", None)
    no_key = await run_cli(None, tmp_path, "account", env=env)
    assert no_key.code == 2
    assert "--api-key" in no_key.err
    assert "api_key" not in no_key.err
    env["IMAGINEPRO_API_KEY"] = "sk-test-key"
    scale = await run_cli(None, tmp_path, "account", "--time-scale", "-1", env=env)
    assert scale.code == 2
    assert "--time-scale must be" in scale.err
    url = await run_cli(None, tmp_path, "account", "--base-url", "http://example.com", env=env)
    assert url.code == 2
    assert "--base-url" in url.err
    bad_env = await run_cli(None, tmp_path, "account", env=env | {"IMAGINEPRO_TIME_SCALE": "x"})
    assert bad_env.code == 2
    assert "IMAGINEPRO_TIME_SCALE" in bad_env.err
    remote = {"IMAGINEPRO_TIME_SCALE": "50", "IMAGINEPRO_BASE_URL": "https://api.imaginepro.ai"}
    leftover = await run_cli(None, tmp_path, "account", env=env | remote)
    assert leftover.code == 2
    assert "unset IMAGINEPRO_TIME_SCALE" in leftover.err


async def test_the_server_side_job_timeout_is_job_timeout(world: World) -> None:
    """--job-timeout is sent as the job's timeout; a bad one exits 2 naming the option; blend
    refuses it; --timeout is not an option (one name per meaning, as in the Python API)."""
    sim, tmp = world.sim, world.tmp
    sim.reset_counters()
    sent = await run_cli(sim, tmp, "imagine", "a slow harbour", "--job-timeout", "600", "-q")
    assert sent.code == 0, sent.err
    (created,) = [entry for entry in sim.jobs_per_body() if entry.endpoint == "imagine"]
    assert json.loads(created.body)["timeout"] == 600
    assert created.message_ids == (sent.out.strip(),)
    bad = await run_cli(sim, tmp, "imagine", "a harbour", "--job-timeout", "5")
    assert bad.code == 2
    assert "--job-timeout is the server-side job timeout in whole seconds, 10 to 900" in bad.err
    assert "job_timeout" not in bad.err
    old = await run_cli(sim, tmp, "imagine", "a harbour", "--timeout", "600")
    assert old.code == 2
    assert "unrecognized arguments: --timeout" in old.err
    assert old.err.count("\n") == 1 and old.err.endswith("(see imaginepro-async imagine --help)\n")
    url = "https://example.com/a.png"
    blend = await run_cli(sim, tmp, "blend", url, url, "--job-timeout", "60")
    assert blend.code == 2
    assert "blend takes no --job-timeout" in blend.err
    shown = await run_cli(None, tmp, "imagine", "--help")
    assert "--job-timeout SECONDS" in shown.out and "--timeout" not in shown.out
    assert sim.stats().by_endpoint.get("blend", 0) == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["imagine"], "imaginepro-async imagine: error: the following arguments are required"),
        (["inpaint", "--parent", "x"], "required: --mask"),
        (["imagine", "a fox", "-q", "--json"], "not allowed with argument"),
        (["wait", "abc", "--json", "--quiet"], "not allowed with argument"),
        (["mask", "--rect", "1", "2"], "--rect: expected 4 arguments"),
        (["nope"], "invalid choice: 'nope'"),
        ([], "required: COMMAND"),
    ],
)
def test_argument_errors_are_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad command line exits 2 with one line naming the problem and the --help to read."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert needle in err
    assert err.rstrip().endswith(" --help)")


@pytest.mark.parametrize(
    ("updates", "printed"),
    [
        ([("QUEUED", 0), ("QUEUED", 0), ("PROCESSING", 0), ("DONE", 100)], 3),
        ([("PROCESSING", p) for p in range(0, 101, 4)], 5),  # 0, 25, 50, 75 and 100 % steps
        ([("PROCESSING", 10), ("PROCESSING", 24), ("PROCESSING", 26), ("FAIL", 26)], 3),
    ],
)
def test_piped_progress_prints_status_changes_and_quarter_steps(
    updates: list[tuple[str, int]], printed: int
) -> None:
    """Piped, a line is printed only when the status changes or progress crosses a 25 % step."""
    marks = [piped_mark(Message(message_id="m", status=Status(s), progress=p)) for s, p in updates]
    changes = sum(
        1 for before, after in zip([None, *marks], marks, strict=False) if before != after
    )
    assert changes == printed


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_the_live_batch_line_keeps_its_count_whole(width: int) -> None:
    """On a narrow terminal the counts text gives way (cut with …), never the count or the ETA."""
    counts = dict.fromkeys(RequestState, 0)
    counts |= {RequestState.DONE: 312, RequestState.SUBMITTED: 100, RequestState.PENDING: 2888}
    progress = BatchProgress(
        total=3300, counts=counts, finished_this_run=312, elapsed=60, throughput=5.0, eta=620
    )
    output = io.StringIO()
    console = Console(file=output, width=width, force_terminal=True, color_system=None)
    columns = live_columns()
    with Progress(*columns, console=console, auto_refresh=False) as bar:
        columns[1].bar_width, text = live_layout(progress, width)
        bar.add_task("batch", total=3300, completed=312, counts=text, eta="10m20s")
        bar.refresh()
    line = output.getvalue().split("\r")[1].removeprefix("\x1b[2K")
    assert len(line) <= width
    assert " 312/3300 " in line and line.endswith("ETA 10m20s"), line
    assert ("pending 2888" in line) == (width >= 120)


def test_every_option_has_help() -> None:
    """Each option and argument of each subcommand says what it is in --help."""
    parser = _parser()
    missing = [
        f"{name} {action.dest}"
        for name, sub in parser.subcommands.items()
        for action in sub._actions
        if action.help is None and name != "simulate"  # simulate --help is its own parser's
    ]
    assert missing == []


def test_mask_messages_speak_in_options(tmp_path: Path) -> None:
    """The mask refusals a CLI user meets name --relative and a file path, not Python terms."""
    with pytest.raises(InvalidMaskError) as fractions:
        Mask.rectangle((8, 8), (0, 0, 2, 2), relative=True)
    with pytest.raises(InvalidMaskError) as missing:
        read_mask_text("no-such-mask.png", base_dir=tmp_path)
    assert "leave out --relative for pixels" in cli_terms(str(fractions.value))
    assert "give the path of an existing file" in cli_terms(str(missing.value))
    for text in (cli_terms(str(fractions.value)), cli_terms(str(missing.value))):
        assert "relative=" not in text and "pathlib" not in text


def test_client_messages_are_translated() -> None:
    """The SDK's Python terms become options and commands."""
    assert cli_terms("pass api_key='sk-...' or set X") == "pass --api-key sk-... or set X"
    text = "await it again, or use client.job('abc-1') later"
    assert cli_terms(text) == "imaginepro-async wait abc-1"
    resize = "sizes differ; pass resize=True, or call mask.resized((1024, 1024)) first"
    assert cli_terms(resize) == "sizes differ; pass --resize-mask"
    assert cli_terms("check client.history() first") == "check imaginepro-async history first"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["inpaint", "--mask", "missing.png"], "--mask missing.png: no such file"),
        (["inpaint", "--mask", "folder"], "--mask folder is a directory"),
        (
            ["inpaint", "--mask", "m.png", "--download", "folder"],
            "--download folder is a directory",
        ),
        (["inpaint", "--mask", "m.png", "--download", "nowhere/x.png"], "does not exist"),
        (["inpaint", "--mask", "m.png", "--download", "m.png/x.png"], "is not a directory"),
        (["imagine", "a boat", "--download", "folder"], "--download folder is a directory"),
        (["mask", "--size", "8x8", "--rect", "0", "0", "4", "4", "-o", "folder"], "directory"),
        (["mask", "--image", "folder", "--rect", "0", "0", "4", "4"], "--image folder is a dir"),
        (["mask", "--image", "m.png", "--rect", "0", "0", "4", "4", "--preview", "no/p.png"], "no"),
    ],
)
async def test_bad_paths_are_refused_before_sending(
    world: World, args: list[str], needle: str
) -> None:
    """Missing files, directories and unwritable outputs exit 2 with one line; nothing is sent."""
    (world.tmp / "folder").mkdir()
    (world.tmp / "m.png").write_bytes(world.mask.read_bytes())
    if args[0] == "inpaint":
        args = [*args, "--parent", world.parent]
    done = await run_cli(world.sim, world.tmp, *args)
    assert done.code == 2, done.err
    assert needle in done.err
    assert done.err.count("\n") == 1
    assert world.sim.stats().jobs_created == 0


async def test_a_mask_of_another_shape_is_refused_before_paying(world: World) -> None:
    """inpaint fetches the parent and checks the mask against its image: exit 2, nothing paid."""
    (world.tmp / "wide.png").write_bytes(make_mask(64, 32))
    credits = world.sim.credits()
    done = await run_cli(
        world.sim, world.tmp, "inpaint", "--parent", world.parent, "--mask", "wide.png"
    )
    assert done.code == 2, done.err
    assert "64x32" in done.err or "64×32" in done.err
    assert world.sim.stats().jobs_created == 0
    assert world.sim.credits() == credits


async def test_a_button_the_parent_lacks_is_refused_before_paying(world: World) -> None:
    """press and upscale check the fetched parent's buttons; an unknown parent is named."""
    grid = world.sim.message(world.parent)["originatingMessageId"]
    zoom = await run_cli(world.sim, world.tmp, "press", grid, "Zoom Out 2x")
    assert zoom.code == 2
    assert "does not offer" in zoom.err
    region = await run_cli(world.sim, world.tmp, "press", world.parent, "Vary (Region)")
    assert region.code == 2
    assert "imaginepro-async inpaint" in region.err
    unknown = await run_cli(world.sim, world.tmp, "upscale", "no-such-job", "1")
    assert unknown.code == 2
    assert "no job no-such-job" in unknown.err
    assert world.sim.stats().jobs_created == 0


async def test_ctrl_c_during_inpaint_says_how_to_wait(tmp_path: Path) -> None:
    """Ctrl-C while an inpaint runs exits 130 and prints the wait command for its messageId."""
    async with Simulator(time_scale=600, seed=2, durations={"button": fixed_duration(1e6)}) as sim:
        world = await make_world(sim, tmp_path)
        args = [*CLI, "inpaint", "--parent", world.parent, "--mask", str(world.mask)]
        async with await anyio.open_process(
            args, env=cli_env(sim, tmp_path), cwd=tmp_path, stdin=subprocess.DEVNULL
        ) as process:
            assert process.stderr is not None
            seen = b""
            with anyio.fail_after(30):
                async for chunk in process.stderr:
                    seen += chunk
                    if b"submitted" in seen and seen.endswith(b"\n"):
                        break
                process.send_signal(signal.SIGINT)
                async for chunk in process.stderr:
                    seen += chunk
                code = await process.wait()
    text = seen.decode()
    message_id = text.split("submitted ", 1)[1].split()[0]
    assert code == 130, text
    assert "Traceback" not in text
    assert f"imaginepro-async wait {message_id}" in text
    assert "goes on on the server" in text


async def test_simulate_reports_a_busy_port(tmp_path: Path) -> None:
    """imaginepro-async simulate on a port in use: one line, exit 2, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await run_cli(None, tmp_path, "simulate", "--port", str(port))
    assert done.code == 2
    assert "in use" in done.err


async def test_describe_blend_and_flux(world: World) -> None:
    """describe, blend and flux submit and follow their jobs like the others."""
    sim, tmp = world.sim, world.tmp
    image = sim.message(world.parent)["uri"]
    described = await run_cli(sim, tmp, "describe", image, "--json")
    assert described.code == 0, described.err
    assert json.loads(described.out)["status"] == "DONE"
    blended = await run_cli(sim, tmp, "blend", image, image, "-q")
    assert blended.code == 0, blended.err
    flux = await run_cli(sim, tmp, "flux", "a harbour", "-n", "2", "--json")
    assert flux.code == 0, flux.err
    assert len(json.loads(flux.out)["images"]) == 2
