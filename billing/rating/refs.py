"""Source refs of many lines or invoices held in one polars column instead of a tuple of
Python strings each.

Rating a million shifts cites about 1.4 million (line, ref) pairs, and an invoice covers
every record of its cycle: making those Python strings cost more than rating them.
`RefColumn` keeps them in one string Series, owner after owner (each owner's refs sorted and
distinct); `SourceRefs` is one owner's slice of it and behaves as the tuple of str it
replaces (length, indexing, iteration, equality and hashing with tuples, repr, pickling as a
tuple). It becomes Python strings only when something iterates it, and then once. Storage
(`pg_text_array`), invoice unions (`ref_pairs`) and membership tests (`refs_among`) work on
the column without that."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import overload

import polars as pl


class RefColumn:
    """Refs of several owners as ranks into one sorted String series of distinct refs:
    owner i's are texts[ranks[bounds[i]:bounds[i + 1]]], ascending."""

    def __init__(self, texts: pl.Series, ranks: pl.Series, bounds: list[int]) -> None:
        self.texts = texts  # shared, not copied: unite() recognises a column over its texts
        self.ranks = ranks
        self.bounds = bounds
        self._flat: pl.Series | None = None
        self._literals: list[str] | None = None

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def refs(self, owner: int) -> SourceRefs:
        return SourceRefs(self, owner)

    @property
    def flat(self) -> pl.Series:
        """Every owner's refs as strings, owner after owner (a polars gather, made once)."""
        if self._flat is None:
            self._flat = self.texts.gather(self.ranks)
        return self._flat

    def literals(self) -> list[str]:
        """Each owner's refs as one PostgreSQL text[] literal, built in polars for every owner
        at once (one Python string per owner, none per ref)."""
        if self._literals is None:
            ends = pl.Series(self.bounds[1:], dtype=pl.Int64)
            owner = ends.search_sorted(pl.int_range(self.ranks.len(), eager=True, dtype=pl.Int64), side="right")
            quoted = pl.concat_str(
                pl.lit('"'),
                pl.col("ref").str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True),
                pl.lit('"'),
            )
            joined = (
                self.flat.rename("ref").to_frame()
                .with_columns(owner=owner)
                .group_by("owner", maintain_order=True)
                .agg(quoted.str.join(",").alias("ref"))
            )
            texts = dict(zip(joined["owner"].to_list(), joined["ref"].to_list(), strict=True))
            self._literals = ["{" + texts.get(owner, "") + "}" for owner in range(len(self))]
        return self._literals


class SourceRefs(Sequence[str]):
    """One owner's refs in a RefColumn, read as a tuple of str."""

    __slots__ = ("_column", "_owner", "_items")

    def __init__(self, column: RefColumn, owner: int) -> None:
        self._column = column
        self._owner = owner
        self._items: tuple[str, ...] | None = None

    @property
    def column(self) -> RefColumn:
        return self._column

    @property
    def owner(self) -> int:
        return self._owner

    def series(self) -> pl.Series:
        start, stop = self._column.bounds[self._owner], self._column.bounds[self._owner + 1]
        return self._column.flat.slice(start, stop - start)

    def as_tuple(self) -> tuple[str, ...]:
        if self._items is None:
            self._items = tuple(self.series().to_list())
        return self._items

    def __len__(self) -> int:
        return self._column.bounds[self._owner + 1] - self._column.bounds[self._owner]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index):
        return self.as_tuple()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_tuple())

    def __contains__(self, ref: object) -> bool:
        return ref in self.as_tuple()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SourceRefs):
            if other._column is self._column and other._owner == self._owner:
                return True
            return len(other) == len(self) and other.as_tuple() == self.as_tuple()
        if isinstance(other, tuple):
            return len(other) == len(self) and other == self.as_tuple()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        return repr(self.as_tuple())

    def __reduce__(self):
        return tuple, (self.as_tuple(),)


def pg_text_array(refs: Sequence[str]) -> str | list[str]:
    """A value for a `%s::text[]` parameter: a column's literal, or the refs as a list."""
    if isinstance(refs, SourceRefs):
        return refs.column.literals()[refs.owner]
    return list(refs)


def text_ranks(refs: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Each ref's rank in text order (UInt32) and the distinct refs in that order: one sort of
    the strings, so that what follows sorts integers."""
    # A frame sort on one thread gives the order and the sorted texts together, in about half
    # the CPU time of an arg sort and a gather (measured on 1M refs on this 2-core machine).
    by_text = refs.rename("ref").to_frame().with_row_index("row").sort("ref", multithreaded=False)
    order, in_order = by_text["row"], by_text["ref"]
    new_text = in_order.ne_missing(in_order.shift(1))
    rank_in_order = (new_text.cum_sum() - 1).cast(pl.UInt32)
    ranks = pl.zeros(refs.len(), pl.UInt32, eager=True).scatter(order, rank_in_order)
    return ranks, in_order.filter(new_text)


def grouped(
    owner: pl.Series, rank: pl.Series, texts: pl.Series, owners: int | None = None
) -> tuple[RefColumn, list[int]]:
    """A RefColumn of (owner, ref rank) pairs, each owner's distinct refs in text order, and
    the owners it holds in order (every owner below `owners` when given, empty ones too).
    Pairs are packed into one Int64, the owner above the rank: one integer sort."""
    rank_bits = max(int(texts.len()).bit_length(), 1)
    owner = owner.cast(pl.Int64)
    distinct = None
    if owner.len() and int(owner.max()).bit_length() + rank_bits > 62:
        distinct = owner.unique()
        owner = owner.replace_strict(distinct, pl.int_range(distinct.len(), eager=True), return_dtype=pl.Int64)
    packed = (owner * (1 << rank_bits) + rank.cast(pl.Int64)).sort(multithreaded=False)  # one thread: less CPU
    packed = packed.filter(packed.ne_missing(packed.shift(1)))
    owner_of_pair = packed // (1 << rank_bits)
    starts = owner_of_pair.ne_missing(owner_of_pair.shift(1)).arg_true()
    held = owner_of_pair.gather(starts)
    held = (held if distinct is None else distinct.gather(held)).to_list()
    ranks = (packed % (1 << rank_bits)).cast(pl.UInt32)
    if owners is None:
        return RefColumn(texts, ranks, [*starts.to_list(), packed.len()]), held
    start_of = dict(zip(held, starts.to_list(), strict=True))
    bounds = []
    for owner_id in range(owners, -1, -1):  # an owner without refs starts where the next one does
        bounds.append(start_of.get(owner_id, bounds[-1] if bounds else packed.len()))
    return RefColumn(texts, ranks, bounds[::-1]), list(range(owners))


def _rank_pairs(owned: Sequence[tuple[int, SourceRefs]]) -> tuple[pl.Series, pl.Series]:
    """(owner, rank) pairs of slices of one RefColumn, gathered in polars."""
    column = owned[0][1].column
    bounds = pl.Series(column.bounds, dtype=pl.Int64)
    slices = [refs.owner for _, refs in owned]
    index = (
        pl.DataFrame(
            {
                "owner": [owner for owner, _ in owned],
                "start": bounds.gather(slices),
                "stop": bounds.gather([owner + 1 for owner in slices]),
            },
            schema={"owner": pl.Int64, "start": pl.Int64, "stop": pl.Int64},
        )
        .select("owner", row=pl.int_ranges("start", "stop"))
        .explode("row")
        .drop_nulls("row")
    )
    return index["owner"], column.ranks.gather(index["row"])


def _merge(texts: pl.Series, extra: pl.Series) -> tuple[pl.Series, pl.Series | None, pl.Series]:
    """Two sorted series of distinct refs merged: the merged series, the new rank of each of
    `texts` (None: unchanged) and the rank of each of `extra`, by binary search."""
    if texts.null_count():  # a null ref sorts first: search among the others
        merged, text_rank, extra_rank = _merge(texts.slice(1), extra)
        head = pl.Series([None], dtype=texts.dtype)
        if text_rank is None:
            return texts, None, extra_rank + 1
        return pl.concat([head, merged]), pl.concat([pl.Series([-1], dtype=pl.Int64), text_rank]) + 1, extra_rank + 1
    n_texts = texts.len()
    position = texts.search_sorted(extra, side="left").cast(pl.Int64)
    if n_texts:
        found = (position < n_texts) & texts.gather(position.clip(0, n_texts - 1)).eq_missing(extra)
    else:
        found = pl.Series([False] * extra.len(), dtype=pl.Boolean)
    new_texts, new_position = extra.filter(~found), position.filter(~found)
    if new_texts.len() == 0:
        return texts, None, position
    # A text moves up by the new refs before it; the k-th new ref lands at its position plus k.
    every = pl.int_range(n_texts, eager=True, dtype=pl.Int64)
    text_rank = every + new_position.search_sorted(every, side="right").cast(pl.Int64)
    new_rank = new_position + pl.int_range(new_texts.len(), eager=True, dtype=pl.Int64)
    merged_rank = pl.concat([text_rank, new_rank])
    order = pl.zeros(merged_rank.len(), pl.Int64, eager=True).scatter(
        merged_rank, pl.int_range(merged_rank.len(), eager=True, dtype=pl.Int64)
    )
    merged = pl.concat([texts, new_texts]).gather(order)
    new_index = ((~found).cast(pl.Int64).cum_sum() - 1).clip(0)
    found_rank = text_rank.gather(position.clip(0, max(n_texts - 1, 0))) if n_texts else position
    extra_rank = pl.select(pl.when(found).then(found_rank).otherwise(new_rank.gather(new_index))).to_series()
    return merged, text_rank, extra_rank


def unite(
    texts: pl.Series,
    ranked: list[pl.DataFrame],
    owned: Sequence[tuple[int, Sequence[str]]],
    named: list[pl.DataFrame],
    owners: int,
) -> RefColumn:
    """Each owner's distinct refs in text order, from (owner, rank) frames of ranks into
    `texts` (sorted, distinct), (owner, refs) pairs (slices of a RefColumn over `texts` stay
    integers) and (owner, ref) frames of strings. Strings not ranked yet (incidents, patrols,
    fees: far fewer) are sorted on their own and merged into `texts` by binary search, so the
    big sets of refs are never sorted as strings again."""
    pairs = [frame.select(pl.col("owner").cast(pl.Int64), pl.col("rank").cast(pl.Int64)) for frame in ranked]
    on_texts, plain = [], []
    for owner, refs in owned:
        (on_texts if isinstance(refs, SourceRefs) and refs.column.texts is texts else plain).append((owner, refs))
    if on_texts:
        owner, rank = _rank_pairs(on_texts)
        pairs.append(pl.DataFrame({"owner": owner, "rank": rank.cast(pl.Int64)}))
    listed = pl.DataFrame(
        {"owner": [owner for owner, refs in plain for _ in refs], "ref": [ref for _, refs in plain for ref in refs]},
        schema={"owner": pl.Int64, "ref": pl.String},
    )
    strings = pl.concat(
        [frame.select(pl.col("owner").cast(pl.Int64), pl.col("ref").cast(pl.String)) for frame in [*named, listed]]
    )
    strings = strings.filter(pl.col("ref").is_not_null())
    extra = strings["ref"].unique().sort()
    merged, text_rank, extra_rank = _merge(texts, extra)
    if text_rank is not None:
        pairs = [frame.with_columns(rank=text_rank.gather(frame["rank"])) for frame in pairs]
    if strings.height:
        pairs.append(strings.select("owner", rank=extra_rank.gather(extra.search_sorted(strings["ref"], side="left"))))
    every = pl.concat(pairs) if pairs else pl.DataFrame(schema={"owner": pl.Int64, "rank": pl.Int64})
    return grouped(every["owner"], every["rank"], merged, owners)[0]


def refs_among(refs: Sequence[str], candidates: Collection[str]) -> set[str]:
    """Those of `candidates` that `refs` holds, without making Python strings of all of `refs`."""
    if not candidates:
        return set()
    if isinstance(refs, SourceRefs) and refs._items is None:
        series = refs.series()
        return set(series.filter(series.is_in(list(candidates))).to_list())
    return set(candidates).intersection(refs)
