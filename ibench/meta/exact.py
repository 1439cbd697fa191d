"""Exact values, so that a rank never depends on the order in which floats were summed.

Human ratings are 0, 0.5 or 1 and a judge's sub-scores are integers over 10: every SC and PQ is a
rational number, and every O is a square root of one (a value that is no short fraction, such as a logprob
judge's expected score, is rounded once and used as it is: it has no ties to keep). A mean of square roots
is kept as a sum of rational multiples of square roots of square-free integers (``Surd``) and turned into a
float only at the end, in one fixed order: two images whose true values are equal get the very same float, whatever
order their raters were read in (VIEScore's float means of √(SC·PQ) can break such ties either way).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Iterable


def fraction(value: object) -> Fraction:
    """The exact value of an int, a float (its binary value), a Fraction or a numeric string."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        return Fraction(int(value))
    if isinstance(value, (int, float)):
        return Fraction(value)
    return Fraction(str(value).strip())


@lru_cache(maxsize=4096)
def _square_free(n: int) -> tuple[int, int]:
    """(k, m) with n = k² · m and m square-free."""
    k, m, p = 1, n, 2
    while p * p <= m:
        while m % (p * p) == 0:
            m //= p * p
            k *= p
        p += 1
    return k, m


class Surd:
    """A sum of rational multiples of square roots of square-free integers, e.g. 1/3 + (2/3)·√2."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[int, Fraction] | None = None):
        self.terms = {m: c for m, c in (terms or {}).items() if c}

    @classmethod
    def sqrt(cls, value: object) -> "Surd":
        """√value for a non-negative rational value with a short denominator (a rating, a score in tenths)."""
        q = fraction(value)
        if q < 0:
            raise ValueError(f"square root of a negative number {q}")
        if q.denominator > SHORT:
            raise ValueError(f"{q}: not a short fraction; use sqrt(), which rounds it once")
        if q == 0:
            return cls()
        k, m = _square_free(q.numerator * q.denominator)
        return cls({m: Fraction(k, q.denominator)})

    @classmethod
    def of(cls, value: object) -> "Surd":
        return cls({1: fraction(value)})

    def __add__(self, other: "Surd") -> "Surd":
        terms = dict(self.terms)
        for m, c in other.terms.items():
            terms[m] = terms.get(m, Fraction(0)) + c
        return Surd(terms)

    def __truediv__(self, n: int) -> "Surd":
        return Surd({m: c / n for m, c in self.terms.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Surd) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.terms.items())))

    def __float__(self) -> float:
        """Correctly rounded parts added in increasing radicand order: equal surds give equal floats."""
        return math.fsum(float(c) * math.sqrt(m) if m != 1 else float(c) for m, c in sorted(self.terms.items()))

    def __repr__(self) -> str:
        return " + ".join(f"{c}" if m == 1 else f"{c}·√{m}" for m, c in sorted(self.terms.items())) or "0"


def mean(values: Iterable[object]) -> float:
    """The mean of rational values, exact, then rounded once."""
    values = [fraction(v) for v in values]
    return float(sum(values, Fraction(0)) / len(values)) if values else math.nan


def mean_sqrt(values: Iterable[object]) -> float:
    """The mean of √v over rational values v (human O: the mean over raters of √(SC·PQ))."""
    roots = [Surd.sqrt(v) for v in values]
    if not roots:
        return math.nan
    total = Surd()
    for r in roots:
        total = total + r
    return float(total / len(roots))


SHORT = 10 ** 6  # a denominator beyond this is no rating (a logprob judge's expected score): no tie to keep


@lru_cache(maxsize=65536)
def _sqrt(value: Fraction) -> float:
    if value.denominator > SHORT:
        return math.sqrt(float(value))
    return float(Surd.sqrt(value))


def sqrt(value: object) -> float:
    """√value of a rational value, rounded once (a judge's O = √(SC·PQ))."""
    return _sqrt(fraction(value))
