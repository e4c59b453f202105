"""EXI 1.0 schema-informed grammars (section 8.5.4) for the strict=false case.

A complex type's grammar is built as a small NFA (attribute uses sorted by qname, then the
content particle with occurrences unrolled: min copies, then max-min optional copies or a loop),
then made deterministic. Event codes follow 8.5.4.3: AT(qname) sorted, SE(qname) in schema
order, SE(*), EE, CH. With strict=false every element-grammar state also has second-level
productions (xsi:type/nil, undeclared AT/SE/CH, EE where missing), so a state with n first-level
productions uses ceil(log2(n+1)) bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .xsd import (
    ComplexType,
    ElementDecl,
    Group,
    Particle,
    QName,
    SchemaError,
    SchemaSet,
    SimpleType,
    Wildcard,
)


def width(n: int) -> int:
    """Bits needed to code n distinct values (0 for one value)."""
    return (n - 1).bit_length() if n > 1 else 0


@dataclass
class Prod:
    event: str  # "AT" | "SE" | "SE*" | "EE" | "CH" (typed simple content) | "CHM" (mixed text)
    fkey: QName | None = None  # field key: attribute qname or particle head qname
    decl: ElementDecl | None = None
    target: int = -1


@dataclass
class State:
    prods: list[Prod]
    width: int = 0


@dataclass
class FieldInfo:
    key: QName
    name: str
    is_attr: bool
    many: bool  # a list in Python and an array in JSON
    required: bool
    members: list[ElementDecl] = field(default_factory=list)
    attr_type: SimpleType | None = None


@dataclass
class TypeGrammar:
    ctype: ComplexType
    fields: list[FieldInfo]
    states: list[State]


class _NFA:
    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[Prod, int]]] = []  # (prod template, nfa target)
        self.mixed: list[bool] = []

    def new(self, mixed: bool = False) -> int:
        self.eps.append([])
        self.edges.append([])
        self.mixed.append(mixed)
        return len(self.eps) - 1


class GrammarBuilder:
    def __init__(self, schemas: SchemaSet) -> None:
        self.s = schemas

    # -- fields ----------------------------------------------------------------------------------
    def _max_counts(self, p: Particle, out: dict[QName, float], mult: float) -> None:
        m = mult * (float("inf") if p.max is None else p.max)
        t = p.term
        if isinstance(t, ElementDecl):
            out[t.qname] = out.get(t.qname, 0) + m
        elif isinstance(t, Group):
            if t.kind == "sequence":
                for c in t.particles:
                    self._max_counts(c, out, m)
            else:
                sub: dict[QName, float] = {}
                for c in t.particles:
                    one: dict[QName, float] = {}
                    self._max_counts(c, one, m)
                    for k, v in one.items():
                        sub[k] = max(sub.get(k, 0), v)
                for k, v in sub.items():
                    out[k] = out.get(k, 0) + v

    def _min_counts(self, p: Particle, out: dict[QName, int], mult: int) -> None:
        m = mult * p.min
        t = p.term
        if isinstance(t, ElementDecl):
            out[t.qname] = out.get(t.qname, 0) + m
        elif isinstance(t, Group):
            if t.kind == "sequence":
                for c in t.particles:
                    self._min_counts(c, out, m)
            elif t.particles:
                ones = []
                for c in t.particles:
                    one: dict[QName, int] = {}
                    self._min_counts(c, one, m)
                    ones.append(one)
                keys = set().union(*ones)
                for k in keys:
                    out[k] = out.get(k, 0) + min(o.get(k, 0) for o in ones)

    def _collect(self, p: Particle, out: list[ElementDecl]) -> None:
        t = p.term
        if isinstance(t, ElementDecl):
            out.append(t)
        elif isinstance(t, Group):
            for c in t.particles:
                self._collect(c, out)

    def fields(self, ct: ComplexType) -> list[FieldInfo]:
        out: list[FieldInfo] = []
        used: set[str] = set()

        def pyname(local: str) -> str:
            n = local.replace("-", "_").replace(".", "_")
            if n in ("value",) and ct.content == "simple":
                n = n + "_"
            while n in used:
                n = n + "_"
            used.add(n)
            return n

        for a in sorted(ct.attributes, key=lambda a: (a.qname[1], a.qname[0])):
            out.append(FieldInfo(a.qname, pyname(a.qname[1]), True, False, a.required,
                                 attr_type=a.type))
        if ct.content == "simple":
            out.append(FieldInfo(("", "#value"), "value", False, False, True))
            used.add("value")
        if ct.particle is not None:
            decls: list[ElementDecl] = []
            self._collect(ct.particle, decls)
            maxc: dict[QName, float] = {}
            self._max_counts(ct.particle, maxc, 1)
            minc: dict[QName, int] = {}
            self._min_counts(ct.particle, minc, 1)
            seen: dict[QName, FieldInfo] = {}
            for d in decls:
                if d.qname in seen:
                    prev = seen[d.qname].members[0] if seen[d.qname].members else None
                    if prev is not None and prev.type is not d.type and not d.is_global:
                        raise SchemaError(f"{ct.name}: {d.qname} declared twice with "
                                          "different types")
                    continue
                fi = FieldInfo(d.qname, pyname(d.qname[1]), False,
                               maxc[d.qname] > 1 or ct.mixed, minc.get(d.qname, 0) > 0,
                               members=self.s.members(d))
                seen[d.qname] = fi
                out.append(fi)
        return out

    # -- grammar ---------------------------------------------------------------------------------
    def build(self, ct: ComplexType) -> TypeGrammar:
        fields = self.fields(ct)
        nfa = _NFA()
        start = nfa.new()
        cur = start
        for a in sorted(ct.attributes, key=lambda a: (a.qname[1], a.qname[0])):
            nxt = nfa.new()
            nfa.edges[cur].append((Prod("AT", a.qname), nxt))
            if not a.required:
                nfa.eps[cur].append(nxt)
            cur = nxt
        if ct.content == "simple":
            nxt = nfa.new()
            nfa.edges[cur].append((Prod("CH", ("", "#value")), nxt))
            cur = nxt
        elif ct.particle is not None:
            first = len(nfa.eps)
            s, e = self._particle(nfa, ct.particle)
            nfa.eps[cur].append(s)
            cur = e
            if ct.mixed:
                for i in range(first, len(nfa.eps)):
                    nfa.mixed[i] = True
        end = nfa.new(mixed=ct.mixed and ct.particle is not None)
        nfa.eps[cur].append(end)
        nfa.edges[end].append((Prod("EE"), -1))
        return TypeGrammar(ct, fields, self._determinize(nfa, start, ct))

    def _particle(self, nfa: _NFA, p: Particle) -> tuple[int, int]:
        start = nfa.new()
        cur = start
        for _ in range(p.min):
            s, e = self._term(nfa, p.term)
            nfa.eps[cur].append(s)
            cur = e
        end = nfa.new()
        if p.max is None:
            loop = nfa.new()
            nfa.eps[cur].append(loop)
            s, e = self._term(nfa, p.term)
            nfa.eps[loop].append(s)
            nfa.eps[loop].append(end)
            nfa.eps[e].append(loop)
        else:
            if p.max < p.min:
                raise SchemaError("maxOccurs < minOccurs")
            for _ in range(p.max - p.min):
                s, e = self._term(nfa, p.term)
                nfa.eps[cur].append(s)
                nfa.eps[cur].append(end)
                cur = e
            nfa.eps[cur].append(end)
        return start, end

    def _term(self, nfa: _NFA, t: ElementDecl | Wildcard | Group) -> tuple[int, int]:
        s = nfa.new()
        e = nfa.new()
        if isinstance(t, ElementDecl):
            for m in self.s.members(t):
                nfa.edges[s].append((Prod("SE", t.qname, m), e))
        elif isinstance(t, Wildcard):
            nfa.edges[s].append((Prod("SE*"), e))
        elif t.kind == "sequence":
            cur = s
            for c in t.particles:
                ps, pe = self._particle(nfa, c)
                nfa.eps[cur].append(ps)
                cur = pe
            nfa.eps[cur].append(e)
        else:
            if not t.particles:
                nfa.eps[s].append(e)
            for c in t.particles:
                ps, pe = self._particle(nfa, c)
                nfa.eps[s].append(ps)
                nfa.eps[pe].append(e)
        return s, e

    def _closure(self, nfa: _NFA, seeds: list[int]) -> list[int]:
        """Epsilon closure in depth-first order (the order gives schema order of productions)."""
        out: list[int] = []
        seen: set[int] = set()

        def visit(n: int) -> None:
            if n in seen:
                return
            seen.add(n)
            out.append(n)
            for m in nfa.eps[n]:
                visit(m)

        for sd in seeds:
            visit(sd)
        return out

    def _determinize(self, nfa: _NFA, start: int, ct: ComplexType) -> list[State]:
        index: dict[frozenset[int], int] = {}
        states: list[State] = []
        todo: list[tuple[int, list[int]]] = []

        def intern(closure: list[int]) -> int:
            key = frozenset(closure)
            if key not in index:
                index[key] = len(states)
                states.append(State([]))
                todo.append((index[key], closure))
            return index[key]

        intern(self._closure(nfa, [start]))
        while todo:
            si, closure = todo.pop()
            # collect productions in closure order, grouping by event
            order: list[tuple[str, object]] = []
            groups: dict[tuple[str, object], tuple[Prod, list[int]]] = {}
            mixed = False
            for n in closure:
                mixed = mixed or nfa.mixed[n]
                for prod, tgt in nfa.edges[n]:
                    key: tuple[str, object] = (prod.event,
                                               prod.decl.qname if prod.decl else prod.fkey)
                    if key not in groups:
                        groups[key] = (prod, [])
                        order.append(key)
                    else:
                        other = groups[key][0]
                        if other.fkey != prod.fkey:
                            raise SchemaError(f"{ct.name}: {key} reachable from two fields")
                    if tgt >= 0:
                        groups[key][1].append(tgt)
            prods: list[Prod] = []
            for key in order:
                tmpl, tgts = groups[key]
                target = intern(self._closure(nfa, tgts)) if tgts else -1
                prods.append(Prod(tmpl.event, tmpl.fkey, tmpl.decl, target))
            rank = {"AT": 0, "SE": 1, "SE*": 2, "EE": 3, "CH": 4}
            ats = sorted((p for p in prods if p.event == "AT"),
                         key=lambda p: (p.fkey[1], p.fkey[0]) if p.fkey else ("", ""))
            rest = sorted((p for p in prods if p.event != "AT"), key=lambda p: rank[p.event])
            prods = ats + rest
            if mixed:
                prods.append(Prod("CHM", target=si))
            states[si].prods = prods
            # strict=false: second-level productions always exist in element grammars
            states[si].width = width(len(prods) + 1)
        return states


def simple_element_states() -> list[State]:
    """Grammar of an element with a simple type: CH then EE, each 1 bit (second level exists)."""
    return [State([Prod("CH", ("", "#value"), None, 1)], 1), State([Prod("EE")], 1)]
