"""A small XSD reader: just the parts of XML Schema 1.0 that the V2G schemas use.

It resolves imports by namespace, follows substitution groups and complex-type extension, and
produces a model (element declarations, complex types, simple types with facets) that the
grammar builder turns into EXI grammars. Anything it does not understand is an error, never
silently ignored, so a schema change cannot produce a wrong codec.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

XS = "http://www.w3.org/2001/XMLSchema"
QName = tuple[str, str]  # (namespace uri, local name)

# Built-in simple types: kind and inclusive bounds (integers).
_INT_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "integer": (None, None),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
}
_STRING_TYPES = {"string", "anyURI", "ID", "IDREF", "normalizedString", "token", "NCName"}


class SchemaError(Exception):
    """The schema uses something this reader does not support."""


@dataclass
class SimpleType:
    """A simple type flattened to its EXI-relevant description."""

    name: str  # local name or a synthetic name for anonymous types
    kind: str  # "bool" | "int" | "string" | "hex" | "base64" | "enum"
    min: int | None = None
    max: int | None = None
    min_len: int | None = None
    max_len: int | None = None
    enum: tuple[str, ...] = ()
    enum_base: str = ""  # kind of the enumerated base ("string" or "int")


@dataclass
class AttributeUse:
    qname: QName
    type: SimpleType
    required: bool


@dataclass
class ElementDecl:
    qname: QName
    type: ComplexType | SimpleType
    abstract: bool = False
    subst_head: QName | None = None
    is_global: bool = False


@dataclass
class Wildcard:
    pass


@dataclass
class Group:
    kind: str  # "sequence" | "choice"
    particles: list[Particle]


@dataclass
class Particle:
    min: int
    max: int | None  # None = unbounded
    term: ElementDecl | Wildcard | Group


@dataclass
class ComplexType:
    name: str
    qname: QName | None  # None for anonymous types
    attributes: list[AttributeUse] = field(default_factory=list)
    # content: "empty" | "simple" | "element"
    content: str = "empty"
    simple: SimpleType | None = None
    particle: Particle | None = None
    mixed: bool = False
    abstract: bool = False
    resolved: bool = False


class _SchemaDoc:
    def __init__(self, path: str, root: ET.Element) -> None:
        self.path = path
        self.root = root
        self.tns = root.get("targetNamespace", "")
        self.elem_qualified = root.get("elementFormDefault") == "qualified"
        self.attr_qualified = root.get("attributeFormDefault") == "qualified"
        self.nsmap: dict[str, str] = {}


def _parse_with_ns(path: str) -> tuple[ET.Element, dict[ET.Element, dict[str, str]]]:
    """Parse keeping, for each element, the prefix map in scope (QName attribute values need it)."""
    scopes: dict[ET.Element, dict[str, str]] = {}
    stack: list[dict[str, str]] = [{}]
    pending: dict[str, str] = {}
    root: ET.Element | None = None
    for event, item in ET.iterparse(path, events=("start-ns", "start", "end")):
        if event == "start-ns":
            prefix, uri = item
            pending[prefix] = uri
        elif event == "start":
            assert isinstance(item, ET.Element)
            scope = dict(stack[-1])
            scope.update(pending)
            pending = {}
            stack.append(scope)
            scopes[item] = scope
            if root is None:
                root = item
        else:
            stack.pop()
    assert root is not None
    return root, scopes


class SchemaSet:
    """All schema documents reachable from one root file, indexed by qualified name."""

    def __init__(self, root_file: str, search_dir: str) -> None:
        self.search_dir = search_dir
        self.docs: list[_SchemaDoc] = []
        self.scopes: dict[ET.Element, dict[str, str]] = {}
        self.owner: dict[ET.Element, _SchemaDoc] = {}
        self._loaded: set[str] = set()
        self.raw_elements: dict[QName, ET.Element] = {}
        self.raw_ctypes: dict[QName, ET.Element] = {}
        self.raw_stypes: dict[QName, ET.Element] = {}
        self._load(root_file)
        self.elements: dict[QName, ElementDecl] = {}
        self.ctypes: dict[QName, ComplexType] = {}
        self.stypes: dict[QName, SimpleType] = {}
        self.local_elements: list[ElementDecl] = []
        self._anon = 0
        for qn in self.raw_elements:
            self.global_element(qn)
        # The fragment grammar lists every element declaration of the schema set, including
        # those of types no global element reaches, so resolve every named type.
        for qn in list(self.raw_ctypes):
            self.type_by_name(qn)
        self.subst_members: dict[QName, list[ElementDecl]] = {}
        for decl in self.elements.values():
            if decl.subst_head is not None:
                self.subst_members.setdefault(decl.subst_head, []).append(decl)

    # -- loading -------------------------------------------------------------------------------
    def _find(self, base_dir: str, location: str) -> str:
        cand = os.path.normpath(os.path.join(base_dir, location))
        if os.path.exists(cand):
            return cand
        name = os.path.basename(location)
        for dirpath, _dirs, files in os.walk(self.search_dir):
            if name in files:
                return os.path.join(dirpath, name)
        raise SchemaError(f"schema {location!r} not found under {self.search_dir}")

    def _load(self, path: str) -> None:
        path = os.path.realpath(path)
        if path in self._loaded:
            return
        self._loaded.add(path)
        root, scopes = _parse_with_ns(path)
        doc = _SchemaDoc(path, root)
        self.docs.append(doc)
        self.scopes.update(scopes)
        for el in root.iter():
            self.owner[el] = doc
        for child in root:
            tag = _local(child.tag)
            if tag in ("import", "include"):
                loc = child.get("schemaLocation")
                if loc:
                    self._load(self._find(os.path.dirname(path), loc))
            elif tag == "element":
                self.raw_elements[(doc.tns, child.get("name", ""))] = child
            elif tag == "complexType":
                self.raw_ctypes[(doc.tns, child.get("name", ""))] = child
            elif tag == "simpleType":
                self.raw_stypes[(doc.tns, child.get("name", ""))] = child
            elif tag in ("annotation", "attribute", "group", "attributeGroup"):
                if tag != "annotation":
                    raise SchemaError(f"unsupported top-level {tag} in {path}")
            else:
                raise SchemaError(f"unsupported top-level {tag} in {path}")

    def _qname(self, el: ET.Element, value: str) -> QName:
        prefix, _, local = value.rpartition(":")
        scope = self.scopes[el]
        uri = scope.get(prefix, "")
        if not prefix and "" not in scope:
            uri = ""
        return (uri, local)

    # -- resolution ----------------------------------------------------------------------------
    def global_element(self, qn: QName) -> ElementDecl:
        if qn in self.elements:
            return self.elements[qn]
        raw = self.raw_elements.get(qn)
        if raw is None:
            raise SchemaError(f"unknown element {qn}")
        decl = ElementDecl(qn, SimpleType("placeholder", "string"), is_global=True)
        self.elements[qn] = decl
        decl.abstract = raw.get("abstract") == "true"
        if raw.get("substitutionGroup"):
            decl.subst_head = self._qname(raw, raw.get("substitutionGroup", ""))
        decl.type = self._element_type(raw, qn[1])
        return decl

    def _element_type(self, raw: ET.Element, name: str) -> ComplexType | SimpleType:
        tref = raw.get("type")
        if tref:
            return self.type_by_name(self._qname(raw, tref))
        for child in raw:
            tag = _local(child.tag)
            if tag == "complexType":
                return self._complex(child, name, None)
            if tag == "simpleType":
                return self._simple(child, name)
        return self._builtin("anyType")  # no type: treated as a string (never used here)

    def type_by_name(self, qn: QName) -> ComplexType | SimpleType:
        if qn[0] == XS:
            return self._builtin(qn[1])
        if qn in self.ctypes:
            return self.ctypes[qn]
        if qn in self.stypes:
            return self.stypes[qn]
        if qn in self.raw_ctypes:
            ct = ComplexType(qn[1], qn)
            self.ctypes[qn] = ct
            self._complex(self.raw_ctypes[qn], qn[1], ct)
            return ct
        if qn in self.raw_stypes:
            st = self._simple(self.raw_stypes[qn], qn[1])
            self.stypes[qn] = st
            return st
        raise SchemaError(f"unknown type {qn}")

    def _builtin(self, name: str) -> SimpleType:
        cache: dict[str, SimpleType] = self.__dict__.setdefault("_builtins", {})
        if name not in cache:
            cache[name] = self._make_builtin(name)
        return cache[name]

    def _make_builtin(self, name: str) -> SimpleType:
        if name in _INT_BOUNDS:
            lo, hi = _INT_BOUNDS[name]
            return SimpleType(name, "int", lo, hi)
        if name in _STRING_TYPES:
            return SimpleType(name, "string")
        if name == "boolean":
            return SimpleType(name, "bool")
        if name == "hexBinary":
            return SimpleType(name, "hex")
        if name == "base64Binary":
            return SimpleType(name, "base64")
        raise SchemaError(f"unsupported built-in type xs:{name}")

    def _simple(self, raw: ET.Element, name: str) -> SimpleType:
        restr = [c for c in raw if _local(c.tag) == "restriction"]
        if len(restr) != 1:
            raise SchemaError(f"simple type {name}: only restriction is supported")
        r = restr[0]
        base = self.type_by_name(self._qname(r, r.get("base", "")))
        if not isinstance(base, SimpleType):
            raise SchemaError(f"simple type {name} restricts a complex type")
        st = SimpleType(name, base.kind, base.min, base.max, base.min_len, base.max_len,
                        base.enum, base.enum_base)
        enum: list[str] = []
        for f in r:
            tag = _local(f.tag)
            val = f.get("value", "")
            if tag == "annotation":
                continue
            if tag == "enumeration":
                enum.append(val)
            elif tag == "minInclusive":
                st.min = int(val)
            elif tag == "maxInclusive":
                st.max = int(val)
            elif tag == "minExclusive":
                st.min = int(val) + 1
            elif tag == "maxExclusive":
                st.max = int(val) - 1
            elif tag == "length":
                st.min_len = st.max_len = int(val)
            elif tag == "minLength":
                st.min_len = int(val)
            elif tag == "maxLength":
                st.max_len = int(val)
            else:
                raise SchemaError(f"simple type {name}: unsupported facet {tag}")
        if enum:
            st.enum_base = base.kind if base.kind != "enum" else base.enum_base
            st.kind = "enum"
            st.enum = tuple(enum)
        return st

    def _complex(self, raw: ET.Element, name: str, ct: ComplexType | None) -> ComplexType:
        if ct is None:
            ct = ComplexType(name, None)
        doc = self.owner[raw]
        ct.mixed = raw.get("mixed") == "true"
        ct.abstract = raw.get("abstract") == "true"
        for child in raw:
            tag = _local(child.tag)
            if tag == "annotation":
                continue
            if tag in ("sequence", "choice"):
                ct.content = "element"
                ct.particle = self._particle(child)
            elif tag == "attribute":
                ct.attributes.append(self._attribute(child, doc))
            elif tag == "complexContent":
                if child.get("mixed") == "true":
                    ct.mixed = True
                self._complex_content(child, ct, doc)
            elif tag == "simpleContent":
                self._simple_content(child, ct, doc)
            else:
                raise SchemaError(f"complex type {name}: unsupported {tag}")
        ct.resolved = True
        return ct

    def _complex_content(self, raw: ET.Element, ct: ComplexType, doc: _SchemaDoc) -> None:
        for der in raw:
            tag = _local(der.tag)
            if tag == "annotation":
                continue
            if tag != "extension":
                raise SchemaError(f"complex type {ct.name}: only extension is supported")
            base = self.type_by_name(self._qname(der, der.get("base", "")))
            if not isinstance(base, ComplexType):
                raise SchemaError(f"complex type {ct.name}: complexContent of a simple type")
            if not base.resolved:
                raise SchemaError(f"complex type {ct.name}: recursive extension")
            ct.attributes.extend(base.attributes)
            parts: list[Particle] = []
            if base.particle is not None:
                parts.append(base.particle)
            ct.mixed = ct.mixed or base.mixed
            for c in der:
                t = _local(c.tag)
                if t in ("sequence", "choice"):
                    parts.append(self._particle(c))
                elif t == "attribute":
                    ct.attributes.append(self._attribute(c, doc))
                elif t != "annotation":
                    raise SchemaError(f"complex type {ct.name}: unsupported {t} in extension")
            if parts:
                ct.content = "element"
                ct.particle = (parts[0] if len(parts) == 1
                               else Particle(1, 1, Group("sequence", parts)))

    def _simple_content(self, raw: ET.Element, ct: ComplexType, doc: _SchemaDoc) -> None:
        for der in raw:
            tag = _local(der.tag)
            if tag == "annotation":
                continue
            if tag != "extension":
                raise SchemaError(f"complex type {ct.name}: simpleContent needs extension")
            base = self.type_by_name(self._qname(der, der.get("base", "")))
            if isinstance(base, ComplexType):
                if base.content != "simple":
                    raise SchemaError(f"{ct.name}: simpleContent of a non-simple complex type")
                ct.attributes.extend(base.attributes)
                base = base.simple  # type: ignore[assignment]
            assert isinstance(base, SimpleType)
            ct.content = "simple"
            ct.simple = base
            for c in der:
                t = _local(c.tag)
                if t == "attribute":
                    ct.attributes.append(self._attribute(c, doc))
                elif t != "annotation":
                    raise SchemaError(f"complex type {ct.name}: unsupported {t}")

    def _attribute(self, raw: ET.Element, doc: _SchemaDoc) -> AttributeUse:
        if raw.get("ref"):
            raise SchemaError("attribute references are not supported")
        name = raw.get("name", "")
        form = raw.get("form")
        qualified = form == "qualified" if form else doc.attr_qualified
        qn = (doc.tns if qualified else "", name)
        tref = raw.get("type")
        if tref:
            st = self.type_by_name(self._qname(raw, tref))
        else:
            inner = [c for c in raw if _local(c.tag) == "simpleType"]
            st = self._simple(inner[0], name) if inner else self._builtin("string")
        if not isinstance(st, SimpleType):
            raise SchemaError(f"attribute {name} has a complex type")
        return AttributeUse(qn, st, raw.get("use") == "required")

    def _occurs(self, raw: ET.Element) -> tuple[int, int | None]:
        mn = int(raw.get("minOccurs", "1"))
        mx_s = raw.get("maxOccurs", "1")
        return mn, (None if mx_s == "unbounded" else int(mx_s))

    def _particle(self, raw: ET.Element) -> Particle:
        tag = _local(raw.tag)
        mn, mx = self._occurs(raw)
        doc = self.owner[raw]
        if tag in ("sequence", "choice"):
            parts = [self._particle(c) for c in raw if _local(c.tag) != "annotation"]
            return Particle(mn, mx, Group(tag, parts))
        if tag == "element":
            if raw.get("ref"):
                return Particle(mn, mx, self.global_element(self._qname(raw, raw.get("ref", ""))))
            name = raw.get("name", "")
            form = raw.get("form")
            qualified = form == "qualified" if form else doc.elem_qualified
            qn = (doc.tns if qualified else "", name)
            decl = ElementDecl(qn, SimpleType("placeholder", "string"))
            decl.type = self._element_type(raw, name)
            self.local_elements.append(decl)
            return Particle(mn, mx, decl)
        if tag == "any":
            return Particle(mn, mx, Wildcard())
        raise SchemaError(f"unsupported particle {tag}")

    def members(self, decl: ElementDecl) -> list[ElementDecl]:
        """The element and its (transitive) substitution group members, sorted by local name
        then namespace as EXI requires."""
        out: list[ElementDecl] = []
        todo = [decl]
        seen: set[QName] = set()
        while todo:
            d = todo.pop()
            if d.qname in seen:
                continue
            seen.add(d.qname)
            # EXIficient (the reference for the V2G vectors) keeps abstract heads as SE
            # productions, so they take an event code even though they can never occur.
            out.append(d)
            if d.is_global:
                todo.extend(self.subst_members.get(d.qname, []))
        out.sort(key=lambda d: (d.qname[1], d.qname[0]))
        return out


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
