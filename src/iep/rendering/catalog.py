"""The templates folder (T2): `<root>/<tenant-slug>/NAME.*` first, then `<root>/_shared/NAME.*`.

A template is one of `NAME.html.jinja` (+ optional `NAME.txt.jinja`), `NAME.mjml` or `NAME.tsx`. Jinja2 and MJML
templates may open with YAML front matter (`subject`, `schema`, `example`, `description`); any template may have
`NAME.schema.json` (a JSON Schema for its data, T8) and `NAME.example.json` (data for previews and checks) beside
it. A TSX template's subject is its `subject` export. Files and folders whose names start with `_` are partials
that templates import, not templates. The folder is only read, never written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from iep.rendering import jinja
from iep.rendering.limits import MAX_TEMPLATE_CHARS

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

SHARED = "_shared"
FORMATS = {".html.jinja": "jinja", ".mjml": "mjml", ".tsx": "tsx"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}(/[A-Za-z0-9][A-Za-z0-9_-]{0,99}){0,4}$")
_FRONT_MATTER_KEYS = {"subject", "schema", "example", "description"}
# `export const subject = ...`, `export function subject(...)`, `export { subject }`, `export { x as subject }`.
_TSX_SUBJECT_EXPORT = re.compile(
    r"\bexport\s+(?:const|let|var|(?:async\s+)?function)\s+subject\b|\bexport\s*\{[^}]*\bsubject\s*(?:,|\})"
)
_SKIPPED_DIRS = {"node_modules", ".git"}


class UnknownTemplate(LookupError):
    """No template by that name for this tenant, nor in `_shared`."""


class TemplateInvalid(ValueError):
    """The template exists but cannot be used: syntax, front matter, schema, size or an ambiguous name."""


@dataclass(frozen=True)
class TemplateSource:
    name: str
    namespace: str
    format: str
    path: Path
    body: str
    text_body: str | None = None
    subject: str | None = None
    schema: dict[str, Any] | None = None
    example: dict[str, Any] | None = None
    description: str | None = None
    # Every file read or looked for, with its (mtime_ns, size) or None if absent: how reloads spot an edit.
    stamps: tuple[tuple[Path, tuple[int, int] | None], ...] = field(default=(), repr=False)

    @property
    def qualified(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def digest(self) -> str:
        """What the output depends on, apart from the data (and, for TSX, the files it imports)."""
        doc = [self.format, self.body, self.text_body, self.subject]
        return hashlib.sha256(orjson.dumps(doc)).hexdigest()

    @property
    def gives_subject(self) -> bool:
        """Whether the template itself gives a subject: front matter, or a TSX `subject` export."""
        if self.format == "tsx":
            return _TSX_SUBJECT_EXPORT.search(self.body) is not None
        return self.subject is not None

    @cached_property
    def validator(self) -> Draft202012Validator | None:
        # jsonschema and PyYAML load with the first template that has a schema or front matter: a role that only
        # sends inline content starts without them.
        from jsonschema import Draft202012Validator, FormatChecker

        return Draft202012Validator(self.schema, format_checker=FormatChecker()) if self.schema else None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_TEMPLATE_CHARS:
        raise TemplateInvalid(f"{path.name} is over {MAX_TEMPLATE_CHARS} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TemplateInvalid(f"{path.name} is not UTF-8") from None


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str, int]:
    """(front matter, body, lines before the body): error line numbers are reported as lines of the file."""
    if not text.startswith("---\n") and not text.startswith("---\r\n"):
        return {}, text, 0
    end = re.search(r"^---\s*$", text[3:], re.MULTILINE)
    if end is None:
        raise TemplateInvalid(f"{where}: front matter opened with --- is never closed")
    raw, body = text[3 : 3 + end.start()], text[3 + end.end() :].lstrip("\r\n")
    offset = text[: len(text) - len(body)].count("\n")
    import yaml

    try:
        meta = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        raise TemplateInvalid(f"{where}: front matter is not YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise TemplateInvalid(f"{where}: front matter must be a mapping")
    unknown = set(meta) - _FRONT_MATTER_KEYS
    if unknown:
        raise TemplateInvalid(f"{where}: unknown front matter keys {sorted(unknown)}; use {sorted(_FRONT_MATTER_KEYS)}")
    return meta, body, offset


def _json_file(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        doc = orjson.loads(_read(path))
    except orjson.JSONDecodeError as exc:
        raise TemplateInvalid(f"{path.name}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TemplateInvalid(f"{path.name}: must be a JSON object")
    return doc


def _check_jinja(source: str, *, html: bool, where: str, line_offset: int = 0) -> None:
    try:
        jinja.check_syntax(source, html=html)
    except jinja.TemplateSyntaxError as exc:
        raise TemplateInvalid(f"{where}: line {exc.lineno + line_offset}: {exc.message}") from None


class TemplateCatalog:
    """Finds and loads templates; with `reload` (role dev, T7) every lookup notices edits made since the last."""

    def __init__(self, root: Path | None, *, reload: bool = False) -> None:
        self.root = root
        self.reload = reload
        self._cache: dict[tuple[str, str], TemplateSource] = {}

    def resolve(self, tenant_slug: str | None, name: str) -> TemplateSource:
        if not NAME.match(name):
            raise UnknownTemplate(f"{name[:120]!r} is not a template name (letters, digits, _ - and / only)")
        for namespace in (tenant_slug, SHARED):
            if namespace:
                found = self._load(namespace, name)
                if found is not None:
                    return found
        raise UnknownTemplate(f"no template {name!r}" + (f" for tenant {tenant_slug!r}" if tenant_slug else ""))

    def by_qualified(self, qualified: str) -> TemplateSource:
        """A template by the `namespace/name` recorded on an accepted message."""
        namespace, _, name = qualified.partition("/")
        found = self._load(namespace, name) if NAME.match(name) else None
        if found is None:
            raise UnknownTemplate(f"template {qualified!r} is no longer in the templates folder")
        return found

    def names(self, tenant_slug: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every template a tenant can use (its own hide `_shared` ones), or of all."""
        if self.root is None or not self.root.is_dir():
            return []
        if tenant_slug:
            namespaces = [tenant_slug, SHARED]
        else:
            namespaces = sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name not in _SKIPPED_DIRS)
        taken: set[str] = set()
        found = []
        for namespace in namespaces:
            for name in sorted(self._names_in(self.root / namespace)):
                if tenant_slug and name in taken:
                    continue
                taken.add(name)
                found.append((namespace, name))
        return sorted(found)

    @staticmethod
    def _names_in(base: Path) -> set[str]:
        names: set[str] = set()
        if not base.is_dir():
            return names
        for path in base.rglob("*"):
            parts = path.relative_to(base).parts
            # `_components/`, `_layout.tsx`: partials that templates import, not templates themselves.
            if _SKIPPED_DIRS & set(parts) or any(p.startswith("_") for p in parts) or not path.is_file():
                continue
            for suffix in FORMATS:
                if path.name.endswith(suffix):
                    names.add(path.relative_to(base).as_posix()[: -len(suffix)])
        return names

    def has_format(self, fmt: str) -> bool:
        suffix = next(s for s, f in FORMATS.items() if f == fmt)
        if self.root is None or not self.root.is_dir():
            return False
        return any(not (_SKIPPED_DIRS & set(p.parts)) for p in self.root.rglob(f"*{suffix}"))

    def _load(self, namespace: str, name: str) -> TemplateSource | None:
        cached = self._cache.get((namespace, name))
        if cached is not None and (not self.reload or all(_stamp(p) == s for p, s in cached.stamps)):
            return cached
        self._cache.pop((namespace, name), None)
        if self.root is None:
            return None
        base = self.root / namespace / name
        found = [(suffix, fmt) for suffix, fmt in FORMATS.items() if base.with_name(base.name + suffix).is_file()]
        if not found:
            return None
        if len(found) > 1:
            files = ", ".join(base.name + s for s, _ in found)
            raise TemplateInvalid(f"{namespace}/{name} is ambiguous: {files}; keep one format per name")
        suffix, fmt = found[0]
        source = self._read_template(namespace, name, base, suffix, fmt)
        self._cache[(namespace, name)] = source
        return source

    def _read_template(self, namespace: str, name: str, base: Path, suffix: str, fmt: str) -> TemplateSource:
        path = base.with_name(base.name + suffix)
        where = f"{namespace}/{name}{suffix}"
        text_path = base.with_name(base.name + ".txt.jinja")
        schema_path = base.with_name(base.name + ".schema.json")
        example_path = base.with_name(base.name + ".example.json")
        stamps = tuple((p, _stamp(p)) for p in (path, text_path, schema_path, example_path))
        raw = _read(path)
        meta, body, offset = split_front_matter(raw, where) if fmt != "tsx" else ({}, raw, 0)
        text_body = _read(text_path) if fmt != "tsx" and text_path.is_file() else None
        subject = meta.get("subject")
        if fmt != "tsx":
            # Optional: a request's own subject replaces the template's, and accept refuses a send with neither.
            if subject is not None and (not isinstance(subject, str) or not subject.strip()):
                raise TemplateInvalid(f"{where}: front matter `subject` must be a non-empty string")
            if subject is not None:
                _check_jinja(subject, html=False, where=f"{where} subject")
            _check_jinja(body, html=True, where=where, line_offset=offset)
            if text_body is not None:
                _check_jinja(text_body, html=False, where=f"{namespace}/{name}.txt.jinja")
        schema = meta.get("schema") if "schema" in meta else _json_file(schema_path)
        example = meta.get("example") if "example" in meta else _json_file(example_path)
        if schema is not None:
            if not isinstance(schema, dict):
                raise TemplateInvalid(f"{where}: schema must be a JSON Schema object")
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise TemplateInvalid(f"{where}: the schema is not valid JSON Schema: {exc.message}") from None
        if example is not None and not isinstance(example, dict):
            raise TemplateInvalid(f"{where}: example must be an object")
        description = meta.get("description")
        return TemplateSource(
            name=name,
            namespace=namespace,
            format=fmt,
            path=path,
            body=body,
            text_body=text_body,
            subject=subject,
            schema=schema,
            example=example,
            description=str(description) if description is not None else None,
            stamps=stamps,
        )


def data_errors(source: TemplateSource, data: Any, *, field_name: str = "templateData") -> list[dict[str, Any]]:
    """The data's JSON Schema errors (T8) as problem+json field errors; empty when valid or no schema."""
    validator = source.validator
    if validator is None:
        return []
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = [field_name, *[str(p) for p in err.absolute_path]]
        errors.append(
            {
                "field": ".".join(path),
                "pointer": "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path),
                "code": f"schema.{err.validator}",
                "message": err.message[:500],
            }
        )
    return errors[:50]
