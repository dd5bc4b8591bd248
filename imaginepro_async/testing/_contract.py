"""Every fact the simulator relies on, in one place, each marked *doc* or *assumed*.

*doc*: stated by ImaginePro's documentation or official SDKs (see ``shared/imaginepro-api.md``).
*assumed*: the documentation is silent; this is our decision. When real traffic shows otherwise,
change the constant here and the simulator follows.
"""

from __future__ import annotations

from typing import Final

# --- Paths (doc) -----------------------------------------------------------------------------
PATH_IMAGINE: Final = "/api/v1/nova/imagine"
PATH_BUTTON: Final = "/api/v1/nova/button"
PATH_FETCH: Final = "/api/v1/message/fetch/{message_id}"
PATH_FETCH_LEGACY: Final = "/api/v1/midjourney/message/{message_id}"  # doc (legacy path)
PATH_ACCOUNT_INFO: Final = "/api/v1/subscription/account-info"
PATH_IMAGES: Final = "/api/v1/nova/images"
PATH_PROMPT_CHECK: Final = "/api/v1/nova/prompt-check"
PATH_DESCRIBE: Final = "/api/v1/nova/describe"
# assumed: where result images live; the real CDN is cdn.imaginepro.ai, ours is the simulator.
PATH_CDN: Final = "/cdn/{message_id}/{name}"
# ours: introspection and control routes, never part of the real API.
ADMIN_PREFIX: Final = "/_simulator"

# --- Statuses (doc) --------------------------------------------------------------------------
QUEUED: Final = "QUEUED"
PROCESSING: Final = "PROCESSING"
DONE: Final = "DONE"
FAIL: Final = "FAIL"

# --- Credits ---------------------------------------------------------------------------------
COST_IMAGINE: Final = 10  # doc (third-party docs): imagine, fast mode
COST_BUTTON: Final = 5  # doc (third-party docs): every button action
COST_DESCRIBE: Final = 5  # assumed: priced like a button action
COST_CANCEL: Final = 0  # assumed: pressing Cancel Job is free
# assumed: credits are charged when the job is created and kept when it fails (configurable).
REFUND_FAILED_JOBS: Final = False
# doc: a job that cannot be paid for is refused with 401; assumed: the wording below.
INSUFFICIENT_CREDITS: Final = (
    "Insufficient credits: this request costs {cost} credits and the account has {left} credits"
    " left. Top up your credits or wait for your quota to renew."
)

# --- Accounts --------------------------------------------------------------------------------
DEFAULT_CONCURRENCY: Final = 3  # doc: the docs' example of a concurrent-job limit
DEFAULT_CREDITS: Final = 1_000_000  # ours: enough for 100,000 imagine jobs
ACCOUNT_TYPE: Final = "PRO"  # assumed: value of account-info ``type``
ACCOUNT_EXPIRES_AFTER: Final = 30 * 24 * 3600.0  # assumed: ``expiredAt`` is 30 days after start
# assumed: ``credits`` in account-info is the balance left; ``creditsQuota`` the starting balance.

# --- Rate limits (doc: System Design page), per API key --------------------------------------
GENERAL_LIMIT: Final = (1, 3.0)  # doc: 1 request per 3 s on general endpoints
PROGRESS_LIMIT: Final = (10, 1.0)  # doc: 10 requests per second on the progress endpoint
# assumed: a sliding-window log; a refused request does not use budget; ``Retry-After`` is the
# whole number of seconds (at least 1) until a slot frees; account-info, images and prompt-check
# share the general bucket with imagine, button and describe; both fetch paths share the progress
# bucket; requests are counted after authentication (a 401 costs nothing).

# --- Request fields --------------------------------------------------------------------------
TIMEOUT_MIN: Final = 10  # doc
TIMEOUT_MAX: Final = 900  # doc
TIMEOUT_DEFAULT: Final = 900  # doc
# assumed: the timeout runs from job creation (queue time counts) and a job that passes it ends
# FAIL with TIMEOUT_ERROR.
TIMEOUT_ERROR: Final = "Job timed out after {timeout} seconds"
MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # assumed: larger bodies get 413
IMAGES_PAGE_SIZE_DEFAULT: Final = 10  # doc (example query)
IMAGES_PAGE_SIZE_MAX: Final = 100  # assumed
IMAGES_HISTORY_SECONDS: Final = 24 * 3600.0  # doc: history of the last 24 h
# assumed: unknown request fields are ignored (the official SDK sends e.g. ``negativePrompt``);
# a body that is empty counts as ``{}``; the Content-Type is not checked.

# --- Buttons (doc: the full set) -------------------------------------------------------------
REROLL: Final = "\U0001f504"
PAN_LEFT: Final = "\u2b05\ufe0f"
PAN_RIGHT: Final = "\u27a1\ufe0f"
PAN_UP: Final = "\u2b06\ufe0f"
PAN_DOWN: Final = "\u2b07\ufe0f"
VARY_REGION: Final = "Vary (Region)"
CANCEL_JOB: Final = "Cancel Job"
ALL_BUTTONS: Final = (
    "U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4", REROLL, "Zoom Out 2x", "Zoom Out 1.5x",
    "Vary (Strong)", "Vary (Subtle)", VARY_REGION, PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN,
    "Make Square", "Upscale (2x)", "Upscale (4x)", "Redo Upscale (2x)", "Redo Upscale (4x)",
    "Upscale (Creative)", "Upscale (Subtle)", CANCEL_JOB,
)  # fmt: skip
UPSCALES: Final = ("U1", "U2", "U3", "U4")
# doc: what a grid offers (after imagine, variations, reroll, zoom, pan, Vary, Make Square).
GRID_BUTTONS: Final = ("U1", "U2", "U3", "U4", REROLL, "V1", "V2", "V3", "V4")
# assumed (from Midjourney's set): what a single upscaled image (after U1..U4) offers.
UPSCALED_BUTTONS: Final = (
    "Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)", VARY_REGION,
    "Zoom Out 2x", "Zoom Out 1.5x", PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN,
)  # fmt: skip
# assumed: what a second-stage upscale (Upscale (Subtle/Creative/2x/4x), Redo ...) offers.
# doc: Vary (Region) only on a message produced by U1..U4, so it is not here.
REUPSCALED_BUTTONS: Final = (
    "Vary (Subtle)", "Vary (Strong)", "Zoom Out 2x", "Zoom Out 1.5x",
    PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN,
)  # fmt: skip
SECOND_UPSCALES: Final = (
    "Upscale (Subtle)", "Upscale (Creative)", "Upscale (2x)", "Upscale (4x)",
    "Redo Upscale (2x)", "Redo Upscale (4x)",
)  # fmt: skip
# assumed: a FAIL message offers no buttons; QUEUED and PROCESSING messages offer none either
# (Cancel Job is accepted while a job runs but never listed in ``buttons``).
# doc: Cancel Job is accepted only while the target job is in progress; assumed: it ends the target
# FAIL with CANCELLED_ERROR at once, creates no new job, is free, and answers the usual creation
# answer carrying the *target's* messageId (so a client polling it sees the FAIL).
CANCELLED_ERROR: Final = "Job cancelled by user"
# assumed: Vary (Region) and the other buttons keep the parent's prompt unless the request sends
# one; Vary (Region) results are a new grid.

# --- Masks (Vary (Region)) -------------------------------------------------------------------
# doc: base64 of an image, black background, white = region to redraw, no ``data:`` prefix.
# assumed: PNG, JPEG and WebP are accepted, detected from their signatures; ASCII whitespace in the
# base64 text is ignored; the mask must have the size of the image being edited (configurable).

# --- Messages --------------------------------------------------------------------------------
# assumed: ``ref`` is always present ("" when none was given, like the doc example); ``error`` is
# always present (null unless FAIL); ``buttons`` is always a list; ``originatingMessageId`` only on
# button jobs; ``uri``, ``images`` and ``originalUrl`` only once DONE, and ``uri``/``images`` are
# left out when the job was created with ``disableCdn``. A grid's ``uri`` is the whole grid and
# ``images`` its four quarters; an upscale's ``uri`` and single ``images`` entry are the same image.
# assumed: ``progress`` is an integer, 0 when a job starts, rising linearly with time, at most 99
# while PROCESSING, 100 when DONE; a FAIL message keeps the progress it had.
# assumed: ``updatedAt`` is the time of the last visible change (creation, start, the last progress
# step, the end).
# assumed: messages belong to the account that created them; another key gets 404.
# assumed: a describe job ends DONE with its four suggested prompts in ``prompt`` and no buttons.
DESCRIBE_PROMPTS: Final = (
    "a photograph of {subject}, natural light, shallow depth of field",
    "an illustration of {subject}, flat colours, clean lines",
    "{subject}, oil painting, impressionist style, warm palette",
    "{subject} in a cinematic still, dramatic lighting, 35mm film",
)
# assumed: banned words fail a job at once (still charged); matched as whole words, any case.
DEFAULT_BANNED_WORDS: Final = ("nsfw", "gore")
BANNED_ERROR: Final = "Banned prompt detected: {word!r} is not allowed"
# ours: with ``failure_rate``, a failing job runs 20..80 % of its drawn duration, then ends FAIL.
FAILED_ERROR: Final = "The job failed on the server (simulated failure)"

# --- Durations (assumed: a realistic spread, in simulated seconds) ---------------------------
DURATION_RANGE: Final = (30.0, 90.0)  # imagine and buttons
DESCRIBE_DURATION_RANGE: Final = (5.0, 15.0)

# --- Webhooks ----------------------------------------------------------------------------------
# doc: the body is the Message, same JSON as the progress endpoint; ``ref`` echoed; no signature.
# assumed: POST with a JSON body; sent when the job ends (DONE or FAIL) and, when configured, on
# progress; a delivery that fails (connection error or non-2xx) is retried WEBHOOK_RETRIES times
# with doubling backoff starting at WEBHOOK_BACKOFF simulated seconds; deliveries pending when the
# simulator stops are dropped.
WEBHOOK_RETRIES: Final = 3
WEBHOOK_BACKOFF: Final = 2.0
WEBHOOK_TIMEOUT: Final = 10.0  # simulated seconds per attempt (at least 2 real seconds)

# --- Errors (doc: NestJS style) ----------------------------------------------------------------
REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# assumed: field validation problems come as a list of strings (NestJS ValidationPipe); every
# other error message is one string.
