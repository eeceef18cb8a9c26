"""Known mistakes, generated from the derivation of the right answer.

A derivation writes a gradient the way the lessons teach it: the input reaches the output along one
or more paths; along a path, multiply the local derivatives; then add the paths. Each local
derivative is that of one term c·uⁿ with respect to u. The known mistakes are small changes of
this derivation: add along a path, multiply across paths, drop a path or count one twice, drop a
factor, a wrong power rule, the input written where an intermediate belongs, the other input's
gradient. `catalogue(derivation, probes)` lists them as Mistakes (tag, formula, hint), so that an
exercise gets its mistakes from its derivation.
"""

from coursework.helpers.checks import Mistake, _float, _isfinite, _isinstance, _len, _Tensor, close

__all__ = []

SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
POWER_RULE = "the power rule: the derivative of c·uⁿ is c·n·uⁿ⁻¹ (bring the power down, then lower it by one)."


def monomial(coefficient, var, power):
    """c·uⁿ as the lessons write it: 5a², w², 4, xᵢ·w."""
    if power == 0:
        return coefficient if _isinstance(coefficient, str) else f"{coefficient:g}"
    base = var if power == 1 else f"{var}{str(power).translate(SUPERSCRIPT)}"
    if _isinstance(coefficient, str):
        return f"{coefficient}·{base}"
    return base if coefficient == 1 else f"{coefficient:g}{base}"


def total(value):
    """A path's contribution as one number: a tensor (one entry per data point) is summed."""
    return _float(value.sum()) if _isinstance(value, _Tensor) else _float(value)


def product(values):
    result = 1.0
    for v in values:
        result = result * v
    return result


class Factor:
    """One local derivative on a path: ∂top/∂var of the term coefficient·var^power. The
    coefficient is a number, or the name of a quantity (then the power is 1)."""

    def __init__(self, top, var, coefficient=1, power=1):
        self.top, self.var, self.coefficient, self.power = top, var, coefficient, power

    def name(self, d):
        return f"{d}{self.top}/{d}{self.var}"

    def term(self):
        return monomial(self.coefficient, self.var, self.power)

    def _c(self, q):
        return q[self.coefficient] if _isinstance(self.coefficient, str) else self.coefficient

    def value(self, q):
        if self.power == 1:
            return self._c(q)
        return self._c(q) * self.power * q[self.var] ** (self.power - 1)

    def power_slips(self):
        """(what the slip writes for this term's derivative, its value from the quantities), for
        the ways the power rule goes wrong."""
        c, n, u = self.coefficient, self.power, self.var
        if n < 2 or _isinstance(c, str):
            return []
        slips = [
            (monomial(c, u, n - 1), lambda q: c * q[u] ** (n - 1)),  # the power not brought down
            (monomial(c * n, u, n), lambda q: c * n * q[u] ** n),  # the power kept
        ]
        if c != 1:
            slips.append((monomial(n, u, n - 1), lambda q: n * q[u] ** (n - 1)))  # the coefficient lost
        if n >= 3:
            slips.append((monomial(c * n, u, 1), lambda q: c * n * q[u]))  # the power lowered to 1
        slips.append((monomial(c * n, u, 0), lambda q: c * n))  # the variable dropped
        return slips


class Derivation:
    """d(output)/d(wrt) as a sum over paths of products of local derivatives.

    paths: lists of Factors, each from the output down to wrt. quantities(*point): every name the
    factors use, at a point. intermediates: {name: its definition}, for the slip of writing wrt
    where an intermediate belongs. other: the derivation of the other input, if any. fixed:
    (point, what, hint) for the slip of returning the value at one point whatever the arguments.
    """

    def __init__(self, output, wrt, paths, quantities, d="∂", intermediates=None, other=None, fixed=()):
        self.output, self.wrt, self.paths, self.quantities, self.d = output, wrt, paths, quantities, d
        self.intermediates, self.other, self.fixed = intermediates or {}, other, fixed

    def value(self, *point):
        return self._formula(lambda fv: sum(total(product(p)) for p in fv))(*point)

    def _formula(self, change):
        """The formula of the point that `change` computes from the factors' values (one list per path)."""

        def formula(*point):
            q = self.quantities(*point)
            return change([[f.value(q) for f in path] for path in self.paths])

        return formula

    def _via(self, path):
        return path[0].var

    def _path_text(self, path):
        return " · ".join(f.name(self.d) for f in path)

    def changes(self):
        """(tag, what you did, hint, formula) for each small change of the derivation."""
        d, paths, many = self.d, self.paths, _len(self.paths) > 1
        whole = f"{d}{self.output}/{d}{self.wrt}"

        def right(fv):
            return sum(total(product(p)) for p in fv)

        changes = []
        if any(_len(p) > 1 for p in paths):
            where = "each path; along a path" if many else "the chain; along a chain"
            changes.append(("sum-along-path", f"added the local derivatives along {where} they multiply",
                            f"{whole} = {' + '.join(self._path_text(p) for p in paths)}.",
                            self._formula(lambda fv: sum(total(sum(p)) for p in fv))))
        if many:
            shares = " + ".join(f"(path through {self._via(p)})" for p in paths)
            changes.append(("product-across-paths", "multiplied the shares of the paths; the paths add",
                            f"{whole} = {shares}.", self._formula(lambda fv: product(total(product(p)) for p in fv))))
            for i, path in enumerate(paths):
                changes.append(("missing-path", f"left out the path through {self._via(path)}",
                                f"{self.wrt} also reaches {self.output} through {self._via(path)}.",
                                self._formula(lambda fv, i=i: right(fv) - total(product(fv[i])))))
        for point, what, hint in self.fixed:
            value = self.value(*point)
            changes.append(("wrong-point", what, hint, lambda *p, value=value: value))
        for i, path in enumerate(paths):
            for j, factor in enumerate(path):
                if _len(path) < 2:
                    continue
                place = "first" if j == 0 else "last" if j == _len(path) - 1 else "middle"
                on = f" of the path through {self._via(path)}" if many else " of the chain"
                changes.append(("chain-stopped-early", f"left out {factor.name(d)}, the {place} factor{on}",
                                "multiply all the local derivatives along the path.",
                                self._formula(lambda fv, i=i, j=j: right(fv) - total(product(fv[i]))
                                              + total(product(fv[i][:j] + fv[i][j + 1:])))))
        if not many and _len(paths[0]) > 2:
            for j, factor in enumerate(paths[0]):
                changes.append(("chain-stopped-early", f"stopped at {factor.name(d)}, one factor of the chain",
                                f"multiply all the local derivatives along the chain: {self._path_text(paths[0])}.",
                                self._formula(lambda fv, j=j: total(fv[0][j]))))
        if many and any(_len(p) > 1 for p in paths):
            for end, j in (("first", 0), ("last", -1)):
                names = " + ".join(p[j].name(d) for p in paths)
                changes.append(("chain-stopped-early", f"kept only the {end} factor of each path ({names})",
                                "multiply all the local derivatives along each path, then add the paths.",
                                self._formula(lambda fv, j=j: sum(total(p[j]) for p in fv))))
        for i, path in enumerate(paths):
            for j, factor in enumerate(path):
                for wrong, slip in factor.power_slips():
                    changes.append(("power-rule", f"differentiated {factor.term()} as {wrong}", POWER_RULE,
                                    self._slipped(i, j, slip)))
        for i, path in enumerate(paths):
            for j, factor in enumerate(path):
                if factor.var in self.intermediates and factor.power > 1:

                    def with_wrt(q, f=factor):
                        return f.value({**q, f.var: q[self.wrt]})

                    changes.append(("wrong-point", f"wrote {self.wrt} where {factor.var} belongs in {factor.name(d)}",
                                    f"{self.intermediates[factor.var]}: compute {factor.var} from {self.wrt} first, "
                                    "then use it.", self._slipped(i, j, with_wrt)))
        if self.other is not None:
            other = self.other
            changes.append(("swapped-variable",
                            f"gave {d}{other.output}/{d}{other.wrt}, the gradient of the other input",
                            f"differentiate with respect to {self.wrt}.", other.value))
        if many:
            for i, path in enumerate(paths):
                changes.append(("extra-path", f"counted the path through {self._via(path)} twice",
                                "each path adds its share once.",
                                self._formula(lambda fv, i=i: right(fv) + total(product(fv[i])))))
        return changes

    def _slipped(self, i, j, slip):
        """The formula with factor j of path i replaced by `slip` (a value from the quantities)."""

        def formula(*point):
            q = self.quantities(*point)
            values = [[slip(q) if (k, m) == (i, j) else f.value(q) for m, f in enumerate(path)]
                      for k, path in enumerate(self.paths)]
            return sum(total(product(p)) for p in values)

        return formula


def catalogue(derivation, probes):
    """The derivation's mistakes as Mistakes, each with its own numbers at the probe points (a
    mistake whose numbers are the right ones, or an earlier mistake's, is left out; an earlier one
    with the same numbers names it as a second possibility)."""
    right = [derivation.value(*p) for p in probes]
    kept = []  # [tag, whats, hint, formula, values]
    for tag, what, hint, formula in derivation.changes():
        try:
            values = [total(formula(*p)) for p in probes]
        except (ArithmeticError, ValueError):
            continue
        if not all(_isfinite(v) for v in values) or all(close(v, r) for v, r in zip(values, right)):
            continue
        same = next((k for k in kept if all(close(v, w) for v, w in zip(values, k[4]))), None)
        if same is None:
            kept.append([tag, [what], hint, formula, values])
        elif _len(same[1]) < 2:
            same[1].append(what)
    return [Mistake(f"You {', or '.join(whats)}. Hint: {hint}", tag, formula=formula)
            for tag, whats, hint, formula, _ in kept]


def at_point(mistakes, point, right):
    """The mistakes of a formula as the mistakes of one number, its value at `point`: each one whose
    number differs from the right one and from every earlier one's."""
    kept, seen = [], [right]
    for m in mistakes:
        try:
            value = m.value_at(point)
        except (ArithmeticError, ValueError):
            continue
        if _isfinite(value) and not any(close(value, s) for s in seen):
            seen.append(value)
            kept.append(Mistake(m.says, m.tag, value=value))
    return kept
