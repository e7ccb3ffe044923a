"""Every limit on hostile input lives here.

A photo, a category file, a model or a sidecar that someone crafted (or that a broken tool
wrote) must never make one command take more than about 1 GB of memory above its baseline, nor
one photo more than about 10 s of work. Each limit below sits far above what real cameras, photo
tools and users produce; the comment beside it says what real input looks like. Code that
enforces a limit imports it from here, so the numbers are read and changed in one place.

Sections by input kind. Keep each section flat: a name, a value, a comment.
"""

from __future__ import annotations

_KIB = 1024
_MIB = 1024 * _KIB

# --- photo files (clipdesk.imaging) ---------------------------------------------------------

# Pixels a photo may claim before it is refused from its header (a 30000x30000 PNG header would
# ask for gigabytes). 200 MP is above any camera sold today.
MAX_PIXELS = 200_000_000

# Bytes of metadata a decoder keeps in memory before the first pixel: JPEG segments before the
# image data, PNG chunks other than image data, GIF extensions before the first frame, TIFF tag
# values. Cameras write 20-200 KiB (EXIF, thumbnails, an ICC profile, XMP with a depth map).
MAX_PHOTO_METADATA_BYTES = 16 * _MIB

# Parts of a photo's header that Pillow handles one by one in Python: JPEG segments before the
# image data, GIF extension blocks, TIFF tags in one directory, HEIF top-level boxes. Cameras
# write 5-50.
MAX_PHOTO_SEGMENTS = 10_000

# Stray bytes between a JPEG's segments or a GIF's blocks, which Pillow skips one at a time.
# Damaged files from real cameras have a few.
MAX_PHOTO_JUNK_BYTES = 64 * _KIB

# PNG chunks in all. libpng writes 8 KiB of image data per chunk, so even a 200 MP PNG has
# about 100,000.
MAX_PNG_CHUNKS = 1_000_000

# Full-size decoded pixels held at once by all decode threads of a process (Pillow keeps up to
# 4 bytes a pixel: a 200 MP PNG is 800 MB). A bigger photo waits and is decoded alone.
MAX_DECODE_MEMORY_BYTES = 768 * _MIB

# WebP, HEIF and AVIF decoders read the whole file into memory: the container's own extent (never
# padding after it) is read, up to this. Phone HEIC files are 1-10 MB, an 8K AVIF 20-40 MB.
MAX_CONTAINER_BYTES = 64 * _MIB

# --- category files and prompt templates (clipdesk.tags) ------------------------------------

# Categories in a library, checked when one is added, saved or imported (manual ones count;
# XMP import's keyword categories are bounded by the sidecar limits). Starter set: 6.
MAX_CATEGORIES = 200

# Labels in one category. A large vocabulary (species, places) has a few hundred.
MAX_LABELS_PER_CATEGORY = 1000

# A label's own extra prompts ("a sandy beach"), and a category's templates. Default set: 9.
MAX_PROMPTS_PER_LABEL = 32
MAX_TEMPLATES_PER_CATEGORY = 32

# Characters in one prompt or template. CLIP reads 77 tokens, about 300 characters.
MAX_PROMPT_CHARS = 300

# Prompts the text encoder must encode to score every automatic category of a library (labels x
# templates + the labels' own prompts); one category or one category file is held to it too.
# This bounds tagging's cost before the first photo: the demo model encodes ~2,400 prompts a
# second on two idle CPU cores, so 10,000 take ~4 s. The starter set needs 175; 1,000 labels
# with the 9 default templates need 9,000.
MAX_PROMPTS = 10_000

# A category file's size and how deeply its JSON nests (the format itself needs 5 levels).
MAX_CATEGORY_FILE_BYTES = 8 * _MIB
MAX_CATEGORY_JSON_DEPTH = 20

# --- model files (clipdesk.model): configs, archives, JSON ----------------------------------

# config.json, preprocessor_config.json, clipdesk.json, a shard index, an install journal: real
# ones are under 20 KiB (a shard index of a huge model ~100 KiB), 3 levels deep.
MODEL_JSON_MAX_BYTES = 1 * _MIB
MODEL_JSON_MAX_DEPTH = 32
# tokenizer.json: CLIP's is 2-4 MB, a multilingual one about 17 MB.
TOKENIZER_JSON_MAX_BYTES = 64 * _MIB

# (low, high) of each architecture field (config.json, or the weights' shapes), inclusive.
# Released CLIPs (OpenAI, OpenCLIP up to ViT-bigG-14, SigLIP, EVA) sit well inside them.
MODEL_IMAGE_SIZE = (16, 1024)  # also preprocessor_config.json's crop_size (real: 224 to 448)
MODEL_MAX_PATCH_GRID = 64  # patches per side, image_size / patch_size (real: 7 to 32)
MODEL_WIDTH = (1, 8192)  # hidden_size of a tower (real: up to 1664)
MODEL_MLP_WIDTH = (1, 32_768)  # intermediate_size (real: up to 8192)
MODEL_LAYERS = (1, 128)  # num_hidden_layers (real: up to 48)
MODEL_HEADS = (1, 256)  # num_attention_heads (real: up to 20)
MODEL_VOCAB_SIZE = (1, 1_000_000)  # real: 49408, multilingual 250002
MODEL_CONTEXT_LENGTH = (1, 1024)  # max_position_embeddings (real: 64 to 248)
MODEL_EMBED_DIM = (1, 8192)  # projection_dim (real: up to 1280)
MODEL_LAYER_NORM_EPS = (1e-12, 0.1)  # real: 1e-5, 1e-6
MODEL_LOGIT_SCALE_INIT = (-100.0, 100.0)  # real: log(1 / 0.07) = 2.66
MODEL_MAX_PARAMETERS = 5_000_000_000  # ViT-bigG-14 has 2.5 billion

# (low, high) of preprocessor_config.json's image_mean and image_std per channel (a std of 0
# gives NaN vectors). Real: mean 0 to 0.5, std 0.26 to 0.5.
PREPROCESS_MEAN = (-10.0, 10.0)
PREPROCESS_STD = (1e-3, 100.0)

# Zip archives (TorchScript .pt, torch .bin/.pt): members are checked before they are inflated.
# Torch stores weights uncompressed, so a member that inflates far beyond its stored size is
# not a checkpoint; the attribute pickle of OpenAI's ViT-L/14 is under 1 MB.
ARCHIVE_MAX_INFLATION_BYTES = 64 * _MIB  # sum over members of (declared size - stored size)
ARCHIVE_MAX_PICKLE_BYTES = 64 * _MIB
# Tensors a TorchScript archive may hold beyond the architecture's weights (OpenAI's causal
# masks: 24 KiB per text block).
ARCHIVE_EXTRA_TENSOR_BYTES = 64 * _MIB

# --- XMP sidecars and embedded XMP packets (clipdesk.tags.xmp) --------------------------------

# Bytes of one XMP packet (a sidecar, or the packet embedded in a photo). darktable sidecars
# with a long edit history are 10-500 KiB; embedded packets with a depth map a few MiB.
MAX_XMP_BYTES = 16 * _MIB

# Nesting of XML elements in one packet. XMP needs 4 levels to reach a keyword; digiKam face
# regions and darktable masks reach about 10.
MAX_XMP_DEPTH = 64

# XML elements in one packet. A darktable history of 1,000 edits has about 3,000.
MAX_XMP_ELEMENTS = 100_000

# Keywords in one packet, dc:subject, lr:hierarchicalSubject and digiKam:TagsList together.
# Lightroom and digiKam catalogues put 5-100 on a photo.
MAX_XMP_KEYWORDS = 1_000

# Characters kept of a photo's XMP title (dc:title) and description (dc:description), which go
# into the library and its text index; the rest is cut. IPTC allows 64 and 2,000 bytes; long
# captions from Lightroom or a newsroom are a few thousand characters.
MAX_XMP_TITLE_CHARS = 1_000
MAX_XMP_DESCRIPTION_CHARS = 20_000

# --- decision files (clipdesk.tags.decision_file) ---------------------------------------------

# A file of the user's decisions exported from a library: ~150 bytes a decision, so 64 MiB holds
# ~400,000 (a library of 100,000 photos with a few decisions each is ~50,000).
MAX_DECISION_FILE_BYTES = 64 * _MIB
MAX_DECISIONS = 1_000_000

# Nesting of a decision file's JSON (the format needs 5 levels, its categories as many as a
# category file's).
MAX_DECISION_JSON_DEPTH = 20

# Characters of a photo path in it (Linux allows 4,096 bytes).
MAX_DECISION_PATH_CHARS = 4096
