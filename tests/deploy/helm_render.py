"""A minimal renderer for deploy/helm/iep: the helm binary cannot be installed here (no Debian package, no PyPI
one), so the chart keeps to a small subset of Helm's Go templates and this renders exactly that subset, refusing
anything else rather than guessing.

Supported: `{{ .Values.a.b }}`, `{{ toYaml .Values.a }}`, `.Release.Name`, `.Release.Namespace`, `.Chart.Name`,
`.Chart.Version`, `.Chart.AppVersion`; pipes `quote`, `toYaml`, `nindent N`, `indent N`;
`{{ if PATH }}` … `{{ end }}` (no else); `{{-` / `-}}` whitespace trimming as Go does it (all whitespace,
newlines included). A missing value is an error (Helm would print nothing or `<no value>`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-)?\s*(.*?)\s*(-)?\}\}", re.DOTALL)
PATH = re.compile(r"^\.[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Unsupported(Exception):
    """The template uses something outside the subset: the chart must be kept to it (or real helm used)."""


@dataclass
class Block:
    condition: str | None = None
    children: list[Any] = field(default_factory=list)


def _parse(source: str) -> Block:
    root = Block()
    stack = [root]
    pieces: list[tuple[str, str]] = []
    pos = 0
    trim_next = False
    for match in ACTION.finditer(source):
        text = source[pos : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2)))
        trim_next = bool(match.group(3))
        pos = match.end()
    tail = source[pos:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    for kind, value in pieces:
        if kind == "text":
            stack[-1].children.append(value)
        elif value.startswith("if "):
            block = Block(condition=value[3:].strip())
            stack[-1].children.append(block)
            stack.append(block)
        elif value == "end":
            if len(stack) == 1:
                raise Unsupported("{{ end }} without {{ if }}")
            stack.pop()
        elif value.split()[0] in ("else", "range", "with", "define", "template", "include", "block"):
            raise Unsupported(f"{{{{ {value} }}}}")
        else:
            stack[-1].children.append(("expr", value))
    if len(stack) != 1:
        raise Unsupported("{{ if }} without {{ end }}")
    return root


def _lookup(path: str, context: dict[str, Any]) -> Any:
    if not PATH.match(path):
        raise Unsupported(f"not a value path: {path}")
    value: Any = context
    for part in path[1:].split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"{path}: no such value")
        value = value[part]
    return value


def _go_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise Unsupported("a map or list printed without toYaml")
    return "" if value is None else str(value)


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, dict | list) and not value)


def _to_yaml(value: Any) -> str:
    # sigs.k8s.io/yaml (Helm's toYaml) sorts keys and drops the final newline.
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False).rstrip("\n")


def _evaluate(expression: str, context: dict[str, Any]) -> str:
    stages = [s.strip() for s in expression.split("|")]
    first = stages[0].split()
    if len(first) == 2 and first[0] == "toYaml":  # `toYaml .Values.x` is `.Values.x | toYaml`
        stages[:1] = [first[1], "toYaml"]
    value: Any = _lookup(stages[0], context)
    for stage in stages[1:]:
        name, *args = stage.split()
        if name == "quote" and not args:
            value = json.dumps(_go_string(value))
        elif name == "toYaml" and not args:
            value = _to_yaml(value)
        elif name in ("nindent", "indent") and len(args) == 1 and args[0].isdigit():
            pad = " " * int(args[0])
            value = ("\n" if name == "nindent" else "") + "\n".join(
                pad + line for line in _go_string(value).split("\n")
            )
        else:
            raise Unsupported(f"function {stage!r}")
    return _go_string(value)


def _render_block(block: Block, context: dict[str, Any]) -> str:
    out: list[str] = []
    for child in block.children:
        if isinstance(child, str):
            out.append(child)
        elif isinstance(child, Block):
            assert child.condition is not None
            if _truthy(_lookup(child.condition, context)):
                out.append(_render_block(child, context))
        else:
            out.append(_evaluate(child[1], context))
    return "".join(out)


def render_template(source: str, context: dict[str, Any]) -> str:
    return _render_block(_parse(source), context)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def render_chart(
    chart: Path, *, release: str = "iep", namespace: str = "default", values: dict[str, Any] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every template's documents, by template file name (like `helm template`, without the hooks' ordering)."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    context = {
        "Values": _merge(yaml.safe_load((chart / "values.yaml").read_text()), values or {}),
        "Release": {"Name": release, "Namespace": namespace},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    rendered: dict[str, list[dict[str, Any]]] = {}
    for template in sorted((chart / "templates").glob("*.yaml")):
        text = render_template(template.read_text(), context)
        rendered[template.name] = [doc for doc in yaml.safe_load_all(text) if doc]
    return rendered
