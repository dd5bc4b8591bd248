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
PATH_DESCRIBE_LEGACY: Final = "/api/v1/midjourney/describe"  # doc (legacy path)
PATH_BLEND_LEGACY: Final = "/api/v1/midjourney/blend"  # legacy docs (confirmed)
PATH_BLEND: Final = "/api/v1/nova/blend"  # assumed: not documented, by analogy with the others
PATH_FACESWAP: Final = "/api/v1/nova/faceswap"  # doc (path); body assumed as the legacy one
PATH_FACESWAP_LEGACY: Final = "/api/v1/midjourney/faceswap"  # legacy docs
PATH_BOOST_IMAGINE: Final = "/api/v1/nova/boost/imagine"  # doc
PATH_BOOST_BUTTON: Final = "/api/v1/nova/boost/button"  # doc
PATH_FLUX_IMAGINE: Final = "/api/v1/flux/imagine"  # doc
PATH_FLUX_UPSCALE: Final = "/api/v1/flux/upscale"  # third-party docs
PATH_REMOVE_BG: Final = "/api/v1/tools/remove-bg"  # third-party docs
PATH_GEMINI_IMAGINE: Final = "/api/v1/gemini/imagine"  # doc (JS SDK)
PATH_UNIVERSAL_IMAGINE: Final = "/api/v1/universal/imagine"  # doc (JS SDK)
PATH_VIDEO_GENERATE: Final = "/api/v1/video/mj/generate"  # doc (JS SDK)
PATH_VIDEO_EXTEND: Final = "/api/v1/video/mj/extend"  # doc (JS SDK)
PATH_VIDEO_FETCH: Final = "/api/v1/video/mj/fetch/{message_id}"  # doc (JS SDK)
PATH_DISCORD_TOKEN: Final = "/api/v1/discord/token/{token_id}"  # doc (GET and PUT)
PATH_DISCORD_TOKENS: Final = "/api/v1/discord/tokens"  # legacy docs
PATH_MESSAGE_TRACE: Final = "/api/v1/message/trace/{message_id}"  # doc
PATH_COMMANDS: Final = "/api/v1/nova/commands"  # doc (path); fields as the legacy endpoint
PATH_COMMANDS_LEGACY: Final = "/api/v1/midjourney/commands"  # legacy docs
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
# The prices per endpoint live in ``imaginepro_async/_costs.py`` (the one table shared with the
# client): imagine 10 and buttons 5 are documented (third-party docs); every other price there,
# and Cancel Job being free, is assumed and marked so in that table.
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
# assumed: every new job-creating endpoint (blend, faceswap, boost, flux, remove-bg, gemini,
# universal, video, commands) and the DIY reads (discord tokens, message trace) count against the
# general bucket; the video progress endpoint counts against the progress bucket.

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
# assumed (the batch's reconciliation of uncertain requests relies on each; see
# ``imaginepro_async/_batch/reconcile.py``): the history lists *every* job the account created in
# the last 24 h, whatever its status (QUEUED, PROCESSING, DONE, FAIL) and kind, from the moment
# its creation is decided (a job created after its request's connection was lost is listed too);
# newest first by ``createdAt``; ``page``/``size`` are offsets into that order (a job created
# while one pages shifts the later pages by one: entries repeat, none is skipped); ``size`` up to
# IMAGES_PAGE_SIZE_MAX (the client trusts only an empty page as the end, not a short one; it
# checks the order and trusts no coverage if a page is not newest first). ``createdAt`` is the
# creation time to the millisecond, on one clock for every job of the account. A Vary
# (Region) job is identified only by ``button`` ("Vary (Region)") and ``prompt`` (the request's
# prompt, or the parent's when the request sent none, as created); the record carries neither the
# parent's messageId, nor the mask, nor the ``ref`` (not echoed: the doc's field list has no
# ``ref``). ``uri`` is null until the job is DONE.
HISTORY_LISTS_EVERY_STATUS: Final = True
# assumed: a create request the server received becomes a job (or is refused) within this many
# API seconds of its arrival; after it, a job not in the history was never created.
HISTORY_CREATE_SETTLE_SECONDS: Final = 60.0
# assumed: unknown request fields are ignored (the official SDK sends e.g. ``negativePrompt``);
# a body that is empty counts as ``{}``; the Content-Type is not checked, except that:
# assumed (issue #20): a form-encoded body (``application/x-www-form-urlencoded`` or
# ``multipart/form-data``, or text shaped like ``a=1&b=2``) is refused with 400 saying the API takes
# JSON. (NestJS's Express adapter parses form bodies by default, so the real service may take
# simple form fields; no client relies on it, and a clear refusal is the safer assumption.)
FORM_BODY_ERROR: Final = (
    "The request body is form-encoded ({what}); this API takes a JSON object: send the fields as"
    " JSON with 'Content-Type: application/json'."
)

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
MAKE_SQUARE: Final = "Make Square"
# doc: what a grid offers (after imagine, variations, reroll, zoom, pan, Vary, Make Square).
GRID_BUTTONS: Final = ("U1", "U2", "U3", "U4", REROLL, "V1", "V2", "V3", "V4")
# assumed (from Midjourney's set): what a single upscaled image (after U1..U4) offers.
UPSCALED_BUTTONS: Final = (
    "Upscale (Subtle)", "Upscale (Creative)", "Vary (Subtle)", "Vary (Strong)", VARY_REGION,
    "Zoom Out 2x", "Zoom Out 1.5x", PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN,
)  # fmt: skip
# assumed (contract: Midjourney v5 upscales offer Upscale (2x)/(4x) instead of Subtle/Creative):
# what an upscale of a ``--v 5``/``--v 5.x`` job offers.
V5_UPSCALED_BUTTONS: Final = (
    "Upscale (2x)", "Upscale (4x)", "Vary (Subtle)", "Vary (Strong)", VARY_REGION,
    "Zoom Out 2x", "Zoom Out 1.5x", PAN_LEFT, PAN_RIGHT, PAN_UP, PAN_DOWN,
)  # fmt: skip
# assumed (contract: Midjourney shows Make Square only on a non-square upscale): an upscale
# (U1..U4) whose aspect ratio is not 1:1 also offers Make Square, listed after the zooms.
# Make Square makes a grid of square images of the 1:1 size (``IMAGE_SIZE``); its upscales are
# square, so they do not offer it again.
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
# assumed (contract: Redo Upscale (2x)/(4x) follow Upscale (2x)/(4x)): the result of Upscale (2x)
# (or of Redo Upscale (2x)) offers Redo Upscale (2x) first, then REUPSCALED_BUTTONS; 4x alike.
REDO_OF: Final = {
    "Upscale (2x)": "Redo Upscale (2x)", "Redo Upscale (2x)": "Redo Upscale (2x)",
    "Upscale (4x)": "Redo Upscale (4x)", "Redo Upscale (4x)": "Redo Upscale (4x)",
}  # fmt: skip
# assumed (the "Upscale 2x gives twice the size"; Midjourney's v6 Subtle/Creative upscalers
# double too): how many times larger, each way, a second-stage upscale is than its parent. A redo
# makes another image the size of the one it redoes (its parent).
UPSCALE_FACTORS: Final = {
    "Upscale (Subtle)": 2, "Upscale (Creative)": 2, "Upscale (2x)": 2, "Upscale (4x)": 4,
    "Redo Upscale (2x)": 1, "Redo Upscale (4x)": 1,
}  # fmt: skip
# assumed (Midjourney: panning extends the canvas in that direction): a pan makes a grid whose
# images are PAN_FACTOR times wider (left, right) or taller (up, down); the aspect ratio follows.
# Zooms, variations, rerolls and Vary (Region) keep the parent's size and aspect ratio.
PAN_FACTOR: Final = (3, 2)  # 1.5, as a fraction
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
# base64 text is ignored.
# assumed (the real rule is not documented): a mask with the aspect ratio of the image being
# edited is accepted at any resolution (the service scales it); a mask of another aspect ratio is
# refused with 400 naming both sizes. "The same aspect ratio" allows one pixel of rounding:
# |mask_h * image_w - mask_w * image_h| <= MASK_ASPECT_SLACK_PX * image_w.
MASK_ASPECT_SLACK_PX: Final = 1

# --- Midjourney prompt parameters (Midjourney's docs; assumed to hold for the service) ----------
# Midjourney docs: ``--aspect W:H`` or ``--ar W:H`` sets the aspect ratio, whole numbers, default
# 1:1. assumed (contract, issue #20): it shapes every image of the job and of its descendants
# (buttons pressed on it, and on those); the last one in the prompt counts. A value that is not two
# positive whole numbers is refused with 400 at creation, nothing charged (Midjourney refuses it
# too; the service's way of saying so is not documented).
ASPECT_PARAMS: Final = ("--ar", "--aspect")
INVALID_ASPECT: Final = (
    "Invalid parameter: {param} {value} is not an aspect ratio; use two whole numbers, like"
    " '{param} 16:9'."
)
# Midjourney docs: ``--v``/``--version`` picks the model version. assumed (contract): 5, 5.0, 5.1
# and 5.2 upscales offer V5_UPSCALED_BUTTONS; any other version, or none (v6 and later are the
# default), offers UPSCALED_BUTTONS. Other parameters are passed through untouched.
VERSION_PARAMS: Final = ("--v", "--version")
V5_MAJOR: Final = "5"
# assumed (issue #20: "sizes near Midjourney's, e.g. 16:9 -> 1456x816"): for an aspect ratio of
# r:1 (r >= 1), the long side is IMAGE_SIZE * r ** ASPECT_EXPONENT and the short side the long one
# over r, each rounded to a multiple of ASPECT_STEP (both scaled when ``image_size`` is not
# 1024x1024); 1:1 is IMAGE_SIZE exactly. The exponent is fitted to Midjourney's 16:9 size: 1:1 ->
# 1024x1024, 16:9 -> 1456x816, 9:16 -> 816x1456, 4:3 -> 1216x912, 3:2 -> 1312x880. No side exceeds
# MAX_SIDE, nor does an upscale or a pan (extreme ratios are clamped, not refused: Midjourney v5+
# takes any ratio).
ASPECT_EXPONENT: Final = 0.62
ASPECT_STEP: Final = 16
MAX_SIDE: Final = 8192
# assumed (contract: "masks of that aspect accepted at any resolution"): a Vary (Region) mask is
# accepted when it has the aspect ratio of the image's pixels (Midjourney's 1456x816 is not exactly
# 16:9) or the one the prompt asked for, when not 1:1 (a 1920x1080 mask on a ``--ar 16:9`` image),
# to MASK_ASPECT_SLACK_PX pixel of rounding.

# --- Result images (assumed: the sizes Midjourney produces, configurable) ----------------------
IMAGE_SIZE: Final = (1024, 1024)  # one image: an upscale, and each of a grid's four ``images``
# assumed: a grid (``uri`` of imagine, variations, blend...) is the four images 2 x 2: 2048x2048.
GRID_FACTOR: Final = 2
# assumed: the preview ``uri`` of a progress webhook is a half-size image (``preview.png``).
PREVIEW_FACTOR: Final = 2
# ours: every result image is a PNG of two flat colour bands (palette PNG: cheap at any size);
# the simulator serves PNG whatever ``output_format`` asked for.

# --- Flux (doc: fields and defaults; ranges and enums assumed) --------------------------------
FLUX_N: Final = (1, 4, 1)  # doc: n 1..4, default 1
FLUX_SIDE: Final = (256, 2048, 1024)  # doc: multiples of 8, default 1024; assumed: 256..2048
FLUX_SIDE_STEP: Final = 8  # doc
FLUX_ASPECT_RATIOS: Final = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21")
FLUX_ASPECT_RATIO_DEFAULT: Final = "1:1"  # doc
# assumed: without width and height, the size follows aspect_ratio at about 1024x1024 pixels
# (each side rounded to a multiple of 8); width or height given: that size (the other 1024).
FLUX_OUTPUT_FORMATS: Final = ("png", "jpg", "webp")  # assumed; doc default "png"
FLUX_OUTPUT_QUALITY: Final = (0, 100, 100)  # doc default "100" (a string); assumed 0..100
FLUX_MODELS: Final = ("flux-1.1-pro", "flux-1.1-pro-ultra", "flux-pro", "flux-dev", "flux-schnell")
FLUX_MODEL_DEFAULT: Final = "flux-1.1-pro"  # doc; the other models are assumed
FLUX_UPSCALE_SCALE: Final = (2, 4)  # third-party docs: scale 2..4
# assumed: the image given to flux upscale / remove-bg is taken to be 512x512 (the simulator
# does not download it): flux upscale answers (512*scale)^2, remove-bg 1024x1024.
FLUX_UPSCALE_INPUT_SIDE: Final = 512

# --- Blend, Face Swap, Gemini / universal ----------------------------------------------------
BLEND_URLS: Final = (2, 5)  # legacy docs: 2..5 image URLs; assumed: the result is a grid
# assumed: faceswap and remove-bg end with one image and no buttons.
# doc (JS SDK 1.0.3): the default is gemini-2.5-flash-image-preview; its README names flux-1.1-pro
# as the alternative model, and its type for ``model`` admits every universal model too.
GEMINI_MODELS: Final = (
    "gemini-2.5-flash-image-preview", "flux-1.1-pro",
    "nano-banana", "nano-banana-2", "gemini-3-pro-image-preview",
)  # fmt: skip
UNIVERSAL_MODELS: Final = (  # doc (JS SDK), first is the default
    "nano-banana", "nano-banana-2", "gemini-2.5-flash-image-preview", "gemini-3-pro-image-preview",
)  # fmt: skip
CONTENT_TYPES: Final = ("image", "text")  # doc (JS SDK): {type: image, url} / {type: text, text}
MAX_CONTENTS: Final = 16  # assumed: at most this many content parts
# assumed: gemini and universal jobs end with one image and no buttons; ``prompt`` is the text
# parts joined by a space.

# --- Video (doc: JS SDK; the rest assumed) ----------------------------------------------------
VIDEO_RESULTS: Final = 4  # assumed: like Midjourney, one video job makes four videos
# assumed: a DONE video Message has ``videoUrl`` (the first video) and ``results``
# ``[{url, index}]`` (index 0..3), no ``uri``/``images``; both progress endpoints serve every job
# (the video one is the one to use for video jobs); the files are served as ``video/mp4`` (ours:
# a few placeholder bytes, not a playable video). Extend needs a DONE video job of the same
# account and an index 0..3; ``animateMode`` is any string (not checked).
VIDEO_PLACEHOLDER: Final = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"

# --- DIY plan (doc: shapes; values assumed) ---------------------------------------------------
# assumed: each account has one linked Discord token, active, status FAST, whose concurrency is
# the account's; its id is 24 hex digits; ``token`` is shown masked; ``info`` is a short text.
# PUT {isActive: bool} answers the updated record; a deactivated token changes nothing else here.
# A message trace answers ``{tokenId, tokenInfo}`` of the account's token.
TOKEN_STATUSES: Final = ("FAST", "RELAX", "VERIFYING", "BANNED")  # doc
COMMANDS: Final = ("relax", "fast", "turbo", "cancel", "remix")  # legacy docs
# assumed: a command creates a free job (creation answer) that ends DONE without images; relax
# sets the token's status to RELAX, fast and turbo to FAST; cancel and remix change nothing.

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
# Prompts that are not run. Words are matched as whole words, in any case, in the text a request
# sends (imagine's prompt, a button's prompt, Flux's prompt, the text parts of Gemini and
# universal contents, a video's prompt; never URLs, describe or commands).
# contract (third-party, mymidjourney era: "forbidden: The prompt has blocked words"): a blocked
# prompt is refused when the job is created, non-2xx, no messageId, no charge. assumed: the status
# is 400 and the NestJS body's ``message`` is the known wording, naming the word.
DEFAULT_BANNED_WORDS: Final = ("nsfw",)
BLOCKED_STATUS: Final = 400
BLOCKED_ERROR: Final = "forbidden: The prompt has blocked words ({word!r})"
# contract (third-party: "Our AI moderator thinks this prompt is probably against our community
# standards" comes back from Midjourney as a job's failure): a prompt that passes the service's
# list but not Midjourney's moderator is accepted and charged, then its job ends FAIL at once.
# assumed: the default word, the wording (naming the word, as Midjourney's banned-word message
# does), and that the prompt check flags these words too (it "can avoid most of the bad cases").
DEFAULT_MODERATED_WORDS: Final = ("gore",)
MODERATED_ERROR: Final = (
    "Banned prompt detected: Sorry! Our AI moderator thinks this prompt is probably against our"
    " community standards (the word {word!r})."
)
# ours: with ``failure_rate``, a failing job runs 20..80 % of its drawn duration, then ends FAIL.
FAILED_ERROR: Final = "The job failed on the server (simulated failure)"

# --- Durations (assumed: a realistic spread, in simulated seconds) ---------------------------
DURATION_RANGE: Final = (30.0, 90.0)  # imagine, variations, zooms, pans, blend, faceswap, ...
DESCRIBE_DURATION_RANGE: Final = (5.0, 15.0)
# assumed: per job kind (Simulator(durations=...) overrides any of them). Kinds without an entry
# take DURATION_RANGE. An upscale is quick, an imagine slower, a video much slower.
KIND_DURATION_RANGES: Final = {
    "upscale": (10.0, 25.0),  # U1..U4 and the second-stage upscales
    "describe": DESCRIBE_DURATION_RANGE,
    "flux_imagine": (10.0, 30.0),
    "flux_upscale": (5.0, 15.0),
    "remove_bg": (3.0, 10.0),
    "gemini_imagine": (10.0, 30.0),
    "universal_imagine": (10.0, 30.0),
    "video_generate": (120.0, 300.0),
    "video_extend": (120.0, 300.0),
    "commands": (1.0, 3.0),
}

# --- Webhooks ----------------------------------------------------------------------------------
# doc: the body is the Message, same JSON as the progress endpoint; ``ref`` echoed; no signature.
# assumed: POST with a JSON body; sent when the job ends (DONE or FAIL) and, when configured, on
# progress; a delivery that fails (connection error or non-2xx) is retried WEBHOOK_RETRIES times
# with doubling backoff starting at WEBHOOK_BACKOFF simulated seconds; deliveries pending when the
# simulator stops are dropped.
# assumed: redirects are not followed; a 3xx answer is a failed attempt (the safe assumption for a
# receiver: a sender that followed them would only hide a misrouted webhook path).
# assumed (a third-party integration saw PROCESSING deliveries with progress and a preview
# ``uri``): while a job runs, its Message is also POSTed at start and then every
# WEBHOOK_PROGRESS_INTERVAL simulated seconds (event "progress", with a preview ``uri``).
WEBHOOK_PROGRESS_INTERVAL: Final = 15.0
WEBHOOK_RETRIES: Final = 3
WEBHOOK_BACKOFF: Final = 2.0
WEBHOOK_TIMEOUT: Final = 10.0  # simulated seconds per attempt (at least 2 real seconds)

# --- Latency (ours: off by default; simulated seconds) ------------------------------------------
# ``latency_before`` delays a request before it is processed (before the rate limiter counts it
# and before a job is created and stamped ``createdAt``); ``latency_after`` delays the answer after
# processing (after the job was created). Together they are the round trip a client sees.
LATENCY_BEFORE: Final = 0.0
LATENCY_AFTER: Final = 0.0

# --- Errors (doc: NestJS style) ----------------------------------------------------------------
REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    403: "Forbidden",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# assumed: field validation problems come as a list of strings (NestJS ValidationPipe); every
# other error message is one string. The reason is always in ``message`` and ``error`` is the status
# phrase (doc: the JS SDK's type). Both official SDKs show users only ``error`` (so "Bad Request");
# a client must read ``message`` too (contract).

# --- HTTP details (ours; issue #20) -------------------------------------------------------------
# ours: every answer's ``Date`` header is the simulated wall clock, the clock of ``createdAt`` and
# ``updatedAt`` (at time_scale=1000 real time would lag minutes behind hours of simulated time).
# ours: requests whose ``Origin`` is a loopback address (localhost, 127.x.x.x, [::1]; any scheme
# and port) get CORS headers (the origin allowed, ``Retry-After`` and ``Date`` exposed), and their
# preflight (OPTIONS with Access-Control-Request-Method) answers 204 without authentication, rate
# limit or logging. Other origins get no CORS headers (the real service's policy is unknown).
CORS_METHODS: Final = "GET, POST, PUT, OPTIONS"
CORS_MAX_AGE: Final = "600"
