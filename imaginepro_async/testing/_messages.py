"""What a job looks like on the wire: the Message (camelCase, doc) and the CDN files it links to."""

from __future__ import annotations

from typing import Any, Final

from . import _contract as c
from ._clock import SimClock
from ._engine import IMAGE_RESULTS, RESULT_DESCRIPTION, RESULT_GRID, RESULT_VIDEO, Job


def image_names(job: Job) -> tuple[str | None, tuple[str, ...]]:
    """The CDN file names of a DONE job: ``(uri name, images names)`` (none for videos)."""
    if job.result == RESULT_GRID:
        return "grid.png", ("0.png", "1.png", "2.png", "3.png")
    if job.result not in IMAGE_RESULTS:
        return None, ()
    return "0.png", tuple(f"{n}.png" for n in range(job.count))


def video_names(job: Job) -> tuple[str, ...]:
    """The CDN file names of a DONE video job's videos."""
    return tuple(f"video-{n}.mp4" for n in range(job.count)) if job.result == RESULT_VIDEO else ()


PREVIEW: Final = "preview.png"


def cdn_names(job: Job) -> frozenset[str]:
    """Every file the CDN serves for ``job``: its preview once started, its results once DONE."""
    names: set[str] = set()
    if job.started is not None and job.result in IMAGE_RESULTS:
        names.add(PREVIEW)
    if job.status == c.DONE:
        uri, images = image_names(job)
        if uri is not None:
            names.update((uri, *images, "original.png"))
        names.update(video_names(job))
    return frozenset(names)


def render_message(job: Job, now: float, base_url: str, clock: SimClock) -> dict[str, Any]:
    """The Message as the progress endpoint and webhooks send it, at simulated time ``now``."""
    described = job.result == RESULT_DESCRIPTION and job.status == c.DONE
    message: dict[str, Any] = {
        "messageId": job.message_id,
        "prompt": describe_text(job.prompt) if described else job.prompt,
        "status": job.status,
        "progress": job.progress(now),
        "createdAt": clock.iso(job.created),
        "updatedAt": clock.iso(job.updated_at(now)),
        "buttons": list(job.buttons()),
        "ref": job.ref if job.ref is not None else "",
        "error": job.error,
    }
    if job.parent_id is not None:
        message["originatingMessageId"] = job.parent_id
    if job.status != c.DONE:
        return message
    prefix = f"{base_url}/cdn/{job.message_id}/"
    uri, images = image_names(job)
    if uri is not None:
        message["originalUrl"] = prefix + "original.png"
        if not job.disable_cdn:
            message["uri"] = prefix + uri
            message["images"] = [prefix + name for name in images]
    videos = video_names(job)
    if videos:
        message["videoUrl"] = prefix + videos[0]
        message["results"] = [{"url": prefix + name, "index": n} for n, name in enumerate(videos)]
    return message


def preview_url(job: Job, base_url: str) -> str | None:
    """The preview image of a running job (sent in progress webhooks), if it has images."""
    if job.result not in IMAGE_RESULTS:
        return None
    return f"{base_url}/cdn/{job.message_id}/{PREVIEW}"


def describe_text(url: str) -> str:
    """The four prompts a describe job 'finds' in the image at ``url`` (assumed shape)."""
    subject = (
        url.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
    )
    subject = subject or "an image"
    return "\n\n".join(
        f"{n}\ufe0f\u20e3 {line.format(subject=subject)}"
        for n, line in enumerate(c.DESCRIBE_PROMPTS, 1)
    )
