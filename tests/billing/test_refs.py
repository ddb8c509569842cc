"""Source refs held as slices of one ranked polars column (billing/rating/refs.py): they read
as the tuples of str they replace, unite per owner exactly as Python sets would, and become
PostgreSQL text[] literals that PostgreSQL's own quoting rules read back unchanged."""

from __future__ import annotations

import pickle
import random

import polars as pl

from billing.rating.refs import SourceRefs, grouped, pg_text_array, refs_among, text_ranks, unite


def _column(per_owner: list[list[str | None]], texts_from: list[str | None] | None = None):
    """A RefColumn of these owners' refs, ranked against the distinct refs of `texts_from`."""
    ranks, texts = text_ranks(pl.Series(texts_from if texts_from is not None else
                                        [ref for refs in per_owner for ref in refs], dtype=pl.String))
    lookup = dict(zip(texts.to_list(), range(texts.len()), strict=True))
    owner = [i for i, refs in enumerate(per_owner) for _ in refs]
    rank = [lookup[ref] for refs in per_owner for ref in refs]
    return grouped(pl.Series(owner, dtype=pl.Int64), pl.Series(rank, dtype=pl.Int64), texts, len(per_owner))[0]


def test_a_slice_reads_as_the_tuple_it_replaces():
    column = _column([["b", "a", "a"], [], ["c"]])
    first, empty, last = column.refs(0), column.refs(1), column.refs(2)
    assert first == ("a", "b") and ("a", "b") == first and first != ("a",) and first != ["a", "b"]
    assert empty == () and len(empty) == 0 and not empty
    assert list(last) == ["c"] and last[0] == "c" and last[-1:] == ("c",) and "c" in last and "a" not in last
    assert hash(first) == hash(("a", "b")) and repr(first) == repr(("a", "b"))
    assert {first: 1}[("a", "b")] == 1
    assert pickle.loads(pickle.dumps(first)) == ("a", "b") and type(pickle.loads(pickle.dumps(first))) is tuple
    assert refs_among(first, {"b", "z"}) == {"b"} and refs_among(("a", "b"), {"b", "z"}) == {"b"}


def test_literals_survive_postgres_array_quoting():
    awkward = ['plain', 'with "quote"', "back\\slash", "comma,brace}{", "  spaced ", "ünïcode"]
    column = _column([awkward, [], ["x"]])
    literals = [pg_text_array(column.refs(i)) for i in range(3)]
    assert literals[1] == "{}" and literals[2] == '{"x"}'
    assert _parse_pg_array(literals[0]) == sorted(awkward)
    assert pg_text_array(("a", "b")) == ["a", "b"]


def _parse_pg_array(literal: str) -> list[str]:
    """PostgreSQL's reading of a text[] literal whose elements are all double-quoted."""
    assert literal[0] == "{" and literal[-1] == "}"
    out, i, body = [], 0, literal[1:-1]
    while i < len(body):
        assert body[i] == '"'
        i += 1
        item = []
        while body[i] != '"':
            if body[i] == "\\":
                i += 1
            item.append(body[i])
            i += 1
        out.append("".join(item))
        i += 2  # the closing quote and the comma
    return out


def test_unite_equals_python_sets_on_random_inputs():
    rng = random.Random(7)
    for _ in range(60):
        universe = [f"{rng.choice('abcxyz')}:{rng.randint(0, 40)}" for _ in range(rng.randint(0, 60))]
        shift_refs = [rng.choice(universe) for _ in range(rng.randint(0, 50))] if universe else []
        if shift_refs and rng.random() < 0.3:
            shift_refs.append(None)  # a record without a ref ranks first
        owners = rng.randint(1, 6)
        line_refs = [[rng.choice(shift_refs) for _ in range(rng.randint(1, 4))] for _ in range(owners)] if [
            ref for ref in shift_refs if ref is not None] else [[] for _ in range(owners)]
        line_refs = [[ref for ref in refs if ref is not None] for refs in line_refs]
        column = _column(line_refs, shift_refs or [])
        texts = column.texts
        ranked_rows = [(rng.randrange(owners), rank) for rank in range(texts.len())
                       if texts[rank] is not None and rng.random() < 0.5]
        named_rows = [(rng.randrange(owners), f"{rng.choice('abcmn')}:{rng.randint(0, 40)}")
                      for _ in range(rng.randint(0, 30))]
        plain = [(rng.randrange(owners), tuple(rng.choice(universe or ["q:1"]) for _ in range(2)))]
        expected = [set() for _ in range(owners)]
        for owner, refs in enumerate(line_refs):
            expected[owner].update(refs)
        for owner, rank in ranked_rows:
            expected[owner].add(texts[rank])
        for owner, ref in named_rows:
            expected[owner].add(ref)
        for owner, refs in plain:
            expected[owner].update(refs)
        united = unite(
            texts,
            [pl.DataFrame(ranked_rows, schema={"owner": pl.Int64, "rank": pl.Int64}, orient="row")],
            [*((owner, column.refs(owner)) for owner in range(owners)), *plain],
            [pl.DataFrame(named_rows, schema={"owner": pl.Int64, "ref": pl.String}, orient="row")],
            owners,
        )
        assert [tuple(united.refs(owner)) for owner in range(owners)] == [tuple(sorted(refs)) for refs in expected]
        assert all(isinstance(united.refs(owner), SourceRefs) for owner in range(owners))
