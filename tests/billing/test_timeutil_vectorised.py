"""The vectorised zone helpers agree with polars converting each zone's rows directly."""

from datetime import UTC, datetime, timedelta

import polars as pl

from billing.rating.timeutil import HOUR_US, UTC_DT, ZoneClock, band_split, local_date, round_to_increment

ZONES = [
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift, transitions off the UTC hour
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Europe/London",
    "UTC",
]


def _frame(start: datetime, step: timedelta, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "t": [start + i * step for i in range(n)],
            "tz": [ZONES[(i * 7) % len(ZONES)] for i in range(n)],
            "inc": [[1, 6, 15, 30][i % 4] for i in range(n)],
        },
        schema={"t": UTC_DT, "tz": pl.String, "inc": pl.Int64},
    )


def _direct_wall(df: pl.DataFrame) -> list:
    return [
        pl.Series([t], dtype=UTC_DT).dt.convert_time_zone(z).dt.replace_time_zone(None)[0]
        for t, z in zip(df["t"], df["tz"], strict=True)
    ]


def test_local_date_matches_direct_conversion_across_transitions():
    for start in (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC)):
        df = _frame(start, timedelta(minutes=7, seconds=13), 3000)
        got = local_date(df, "t", "tz", "d")["d"].to_list()
        assert got == [w.date() for w in _direct_wall(df)]


def test_local_date_wide_span_and_nulls():
    df = _frame(datetime(1990, 1, 1, tzinfo=UTC), timedelta(days=97, minutes=13), 200)
    df = df.with_columns(t=pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise("t"))
    got = local_date(df, "t", "tz", "d")["d"].to_list()
    walls = _direct_wall(df.fill_null(datetime(2000, 1, 1, tzinfo=UTC)))
    want = [None if t is None else w.date() for t, w in zip(df["t"], walls, strict=True)]
    assert got == want


def test_round_to_increment_uses_local_minutes():
    df = _frame(datetime(2026, 4, 4, 14, tzinfo=UTC), timedelta(minutes=3, seconds=31), 1500)
    got = round_to_increment(df, ["t"], "tz", "inc")["t"].to_list()
    for t, w, inc, r in zip(df["t"], _direct_wall(df), df["inc"], got, strict=True):
        trunc = t.replace(second=0, microsecond=0)
        m = (w.minute) % inc
        assert r == trunc + timedelta(minutes=(inc - m) if 2 * m >= inc else -m)


def test_minute_of_hour_matches_direct_conversion_inside_and_outside_the_table():
    """Whole-hour zones read the UTC minute only inside the table's span; :30, :45 and
    off-the-hour transitions, and instants outside the span, are converted (Caracas was
    -04:30 until 2016-05-01 02:30 local, -04:00 after)."""
    zones = [*ZONES, "America/Caracas"]
    start = datetime(2016, 4, 24, tzinfo=UTC)
    df = pl.DataFrame(
        {"t": [start + i * timedelta(minutes=7, seconds=13) for i in range(3000)]}, schema={"t": UTC_DT}
    ).with_columns(t=pl.col("t").dt.truncate("1m"), tz=pl.Series([zones[(i * 5) % len(zones)] for i in range(3000)]))
    instants = df["t"].dt.epoch("us")
    codes = df["tz"].cast(pl.Enum(zones)).to_physical()
    want = [wall.minute for wall in _direct_wall(df)]
    first, last = int(instants.min()), int(instants.max())
    after_the_change = int(datetime(2016, 5, 2, tzinfo=UTC).timestamp()) * 1_000_000
    for clock in (
        ZoneClock(zones, first, last, df.height),  # the whole span in the table
        ZoneClock(zones, after_the_change, after_the_change + 96 * HOUR_US, df.height),  # most rows outside it
    ):
        assert clock.minute_of_hour(instants, codes).to_list() == want


def test_band_split_running_total_per_group():
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    df = pl.DataFrame(
        {
            "g": ["a", "b", "a", "a", "b"],
            "start": [t0, t0, t0 + timedelta(hours=5), t0 + timedelta(hours=20), t0 + timedelta(hours=9)],
            "minutes": [300, 600, 300, 120, 60],
            "k": ["x", "x", "x", "x", None],
        },
        schema={"g": pl.String, "start": UTC_DT, "minutes": pl.Int64, "k": pl.String},
    ).with_columns(end=pl.col("start") + pl.duration(minutes=pl.col("minutes")))
    bands = pl.DataFrame({"k": ["x", "x"], "lo": [0, 480], "hi": [480, 10**12], "lab": [0, 1]})
    out = band_split(df, bands, group=["g"], order=["start"], band_key="k", label="lab", default_label=0)
    rows = sorted(out.select("g", "start", "end", "minutes", "lab").iter_rows())
    h = timedelta(hours=1)
    assert rows == [
        ("a", t0, t0 + 5 * h, 300, 0),
        ("a", t0 + 5 * h, t0 + 8 * h, 180, 0),
        ("a", t0 + 8 * h, t0 + 10 * h, 120, 1),
        ("a", t0 + 20 * h, t0 + 22 * h, 120, 1),
        ("b", t0, t0 + 8 * h, 480, 0),
        ("b", t0 + 8 * h, t0 + 10 * h, 120, 1),
        ("b", t0 + 9 * h, t0 + 10 * h, 60, 0),
    ]
