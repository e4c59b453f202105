"""One schema family: the XSD set, its grammars, and names for the Python classes."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from .. import runtime as rt
from .grammar import GrammarBuilder, TypeGrammar, simple_element_states
from .xsd import ComplexType, ElementDecl, QName, SchemaError, SchemaSet, SimpleType

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
FAMILIES: dict[str, tuple[str, str]] = {
    "appHand": ("V2G_CI_AppProtocol.xsd", "urn:iso:15118:2:2010:AppProtocol"),
    "din": ("din_spec/V2G_CI_MsgDef.xsd", "urn:din:70121:2012:MsgDef"),
    "iso2": ("iso15118_2/V2G_CI_MsgDef.xsd", "urn:iso:15118:2:2013:MsgDef"),
    "iso20_CommonMessages": ("iso15118_20/V2G_CI_CommonMessages.xsd",
                             "urn:iso:std:iso:15118:-20:CommonMessages"),
    "iso20_AC": ("iso15118_20/V2G_CI_AC.xsd", "urn:iso:std:iso:15118:-20:AC"),
    "iso20_DC": ("iso15118_20/V2G_CI_DC.xsd", "urn:iso:std:iso:15118:-20:DC"),
    "iso20_WPT": ("iso15118_20/V2G_CI_WPT.xsd", "urn:iso:std:iso:15118:-20:WPT"),
    "iso20_ACDP": ("iso15118_20/V2G_CI_ACDP.xsd", "urn:iso:std:iso:15118:-20:ACDP"),
}


def simple_spec(st: SimpleType) -> tuple[str, dict[str, Any]]:
    """EXI representation of a simple type (7.1): n-bit when the range has < 4096 values."""
    if st.kind == "int":
        if st.min is not None and st.max is not None and st.max - st.min < 4096:
            kind = "nbit"
        elif st.min is not None and st.min >= 0:
            kind = "uint"
        else:
            kind = "int"
        return kind, {"lo": st.min, "hi": st.max, "json_kind": "int"}
    if st.kind == "enum":
        return "enum", {"enum": st.enum}
    return st.kind, {"min_len": st.min_len, "max_len": st.max_len}


@dataclass
class FamilyModel:
    name: str
    namespace: str
    schemas: SchemaSet
    grammars: dict[int, TypeGrammar] = field(default_factory=dict)  # id(ComplexType) -> grammar
    order: list[ComplexType] = field(default_factory=list)
    class_names: dict[int, str] = field(default_factory=dict)
    simples: dict[int, SimpleType] = field(default_factory=dict)
    simple_names: dict[int, str] = field(default_factory=dict)
    doc: list[ElementDecl] = field(default_factory=list)
    frag: list[ElementDecl] = field(default_factory=list)
    dsig_frag: list[ElementDecl] = field(default_factory=list)


def build_model(name: str, schema_dir: str) -> FamilyModel:
    root, ns = FAMILIES[name]
    s = SchemaSet(os.path.join(schema_dir, root), schema_dir)
    m = FamilyModel(name, ns, s)
    gb = GrammarBuilder(s)
    used_names: set[str] = set()

    def add_simple(st: SimpleType) -> None:
        if id(st) in m.simples:
            return
        m.simples[id(st)] = st
        base = "st_" + st.name.replace("-", "_")
        n = base
        i = 2
        while n in m.simple_names.values():
            n = f"{base}_{i}"
            i += 1
        m.simple_names[id(st)] = n

    def add_type(t: ComplexType | SimpleType, elem_name: str) -> None:
        if isinstance(t, SimpleType):
            add_simple(t)
            return
        if id(t) in m.grammars:
            return
        g = gb.build(t)
        m.grammars[id(t)] = g
        base = t.name if t.qname is not None else elem_name
        cname = base.replace("-", "_")
        while cname in used_names:
            cname += "_"
        used_names.add(cname)
        m.class_names[id(t)] = cname
        m.order.append(t)
        for f in g.fields:
            if f.attr_type is not None:
                add_simple(f.attr_type)
            for d in f.members:
                add_type(d.type, d.qname[1])
        if t.simple is not None:
            add_simple(t.simple)

    m.doc = sorted(s.elements.values(), key=lambda d: (d.qname[1], d.qname[0]))
    for d in m.doc:
        add_type(d.type, d.qname[1])
    # fragment grammar: every element declaration (global and local), one per qname
    frag: dict[QName, ElementDecl] = {}
    clash: set[QName] = set()
    for d in list(s.elements.values()) + s.local_elements:
        prev = frag.get(d.qname)
        if prev is None:
            frag[d.qname] = d
        elif prev.type is not d.type and not prev.is_global:
            clash.add(d.qname)
    m.frag = sorted(frag.values(), key=lambda d: (d.qname[1], d.qname[0]))
    # SignedInfo is hashed as a fragment of the xmldsig schema alone (as libcbv2g and
    # EXIficient's xmldsig grammar do), so keep that element list too.
    m.dsig_frag = [d for d in m.frag if d.qname[0] == DSIG_NS]
    for d in m.frag:
        add_type(d.type, d.qname[1])
    m.frag_clash = clash  # type: ignore[attr-defined]
    for g in m.grammars.values():
        for f in g.fields:
            if len(f.members) > 1:
                types = [id(d.type) for d in f.members]
                if len(set(types)) != len(types):
                    raise SchemaError(f"{g.ctype.name}.{f.name}: substitution members share a type")
                if any(isinstance(d.type, SimpleType) for d in f.members):
                    raise SchemaError(f"{g.ctype.name}.{f.name}: simple-typed members")
    return m


def instantiate(m: FamilyModel) -> rt.Family:
    """Build run-time objects directly (used by tests of the generator and for bootstrapping)."""
    simples: dict[int, rt.Simple] = {}
    for k, sty in m.simples.items():
        kind, kw = simple_spec(sty)
        simples[k] = rt.Simple(sty.name, kind, **kw)
    complexes: dict[int, rt.Complex] = {}
    for t in m.order:
        complexes[id(t)] = rt.Complex(m.class_names[id(t)])

    def codec(t: ComplexType | SimpleType) -> rt.Complex | rt.Simple:
        return simples[id(t)] if isinstance(t, SimpleType) else complexes[id(t)]

    for t in m.order:
        g = m.grammars[id(t)]
        cls = dataclasses.make_dataclass(
            m.class_names[id(t)],
            [(f.name, Any, dataclasses.field(default=None)) for f in g.fields],
            slots=True, kw_only=True)
        fields = []
        fidx: dict[QName, int] = {}
        for i, f in enumerate(g.fields):
            fidx[f.key] = i
            if f.is_attr:
                assert f.attr_type is not None
                members: tuple[rt.Member, ...] = (rt.Member(f.key[1], simples[id(f.attr_type)]),)
            elif f.key == ("", "#value"):
                assert t.simple is not None
                members = (rt.Member("#value", simples[id(t.simple)]),)
            else:
                members = tuple(rt.Member(d.qname[1], codec(d.type)) for d in f.members)
            fields.append(rt.Field(f.name, f.is_attr, f.many, f.required, members))
        states = []
        for gst in g.states:
            prods = []
            for p in gst.prods:
                if p.event == "EE":
                    prods.append((rt.EE, 0, -1))
                elif p.event in ("SE*", "CHM"):
                    prods.append((rt.UNSUPPORTED, 0, p.target))
                elif p.event in ("AT", "CH"):
                    assert p.fkey is not None
                    prods.append((fidx[p.fkey], 0, p.target))
                else:
                    assert p.fkey is not None and p.decl is not None
                    fi = fidx[p.fkey]
                    mi = [d.qname for d in g.fields[fi].members].index(p.decl.qname)
                    prods.append((fi, mi, p.target))
            states.append((gst.width, len(gst.prods), tuple(prods)))
        complexes[id(t)].setup(cls, tuple(fields), tuple(states))
    for c in complexes.values():
        c.link()
    doc = tuple(rt.Member(d.qname[1], codec(d.type)) for d in m.doc)
    frag = tuple(rt.Member(d.qname[1], codec(d.type)) for d in m.frag)
    dsig = tuple(rt.Member(d.qname[1], codec(d.type)) for d in m.dsig_frag)
    return rt.Family(m.name, m.namespace, doc, frag, dsig)


_ = simple_element_states
