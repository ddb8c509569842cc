-- billing-rules section 3: rounding to the contract's increment, counted from the
-- site-local hour, a tie rounding up. Fixed examples first (07:07 -> 07:00, 07:08 -> 07:15, 07:53 -> 08:00,
-- a half-hour zone, a 10-minute tie), then a property of every billed shift this build
-- recomputed (all of them in a full build): on the increment grid in site-local time and
-- within half an increment of the raw time.
with

examples (raw_at, timezone, increment_minutes, expected_at) as (

    values
        ('2026-03-02 07:07:59-05'::timestamptz, 'America/New_York', 15, '2026-03-02 07:00-05'::timestamptz),
        ('2026-03-02 07:08:00-05'::timestamptz, 'America/New_York', 15, '2026-03-02 07:15-05'::timestamptz),
        ('2026-03-02 07:52:59-05'::timestamptz, 'America/New_York', 15, '2026-03-02 07:45-05'::timestamptz),
        ('2026-03-02 07:53:00-05'::timestamptz, 'America/New_York', 15, '2026-03-02 08:00-05'::timestamptz),
        ('2026-03-02 07:05:00-05'::timestamptz, 'America/New_York', 10, '2026-03-02 07:10-05'::timestamptz),
        ('2026-03-02 07:14:00+05:30'::timestamptz, 'Asia/Kolkata', 30, '2026-03-02 07:00+05:30'::timestamptz),
        ('2026-03-02 07:15:00+05:30'::timestamptz, 'Asia/Kolkata', 30, '2026-03-02 07:30+05:30'::timestamptz)

),

example_failures as (

    select
        'example' as kind,
        raw_at::text as detail
    from examples
    where {{ round_to_increment('raw_at', 'timezone', 'increment_minutes') }} <> expected_at

),

shifts as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}
    where has_valid_interval and basis = 'actual' and {{ changed_in_build() }}

),

shift_failures as (

    select
        'shift' as kind,
        source_ref as detail
    from shifts
    where extract(minute from billed_start_at at time zone site_timezone)::integer % increment_minutes <> 0
        or extract(second from billed_start_at) <> 0
        or abs(extract(epoch from billed_start_at - date_trunc('minute', check_in_at))) > increment_minutes * 30
        or abs(extract(epoch from billed_end_at - date_trunc('minute', check_out_at))) > increment_minutes * 30

)

select * from example_failures
union all
select * from shift_failures
