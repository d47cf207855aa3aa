"""Size caps for everything that enters or leaves a renderer (SPEC.md §4: the sandbox stops escapes, not
exhaustion). Inline bodies are capped at accept by the same numbers, so nothing accepted fails for size later."""

from __future__ import annotations

# A template's source (inline bodies included), in characters.
MAX_TEMPLATE_CHARS = 10 * 1024 * 1024
# The data a template is rendered with, as compact JSON.
MAX_DATA_BYTES = 1024 * 1024
# Everything one render produces: subject + HTML + text.
MAX_OUTPUT_CHARS = 16 * 1024 * 1024
# A reply line from a render process: the output plus JSON escaping (worst case 6 bytes per character).
MAX_REPLY_BYTES = 6 * MAX_OUTPUT_CHARS + 4096
# The address space of one Python render process: a runaway allocation fails there instead of on the host.
WORKER_MEMORY_BYTES = 512 * 1024 * 1024
