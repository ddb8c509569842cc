{{ config(schema='intermediate', materialized='table') }}
-- billing-rules sections 7 and 10 [ext]: device_fee_without_events. A device billed for
-- monitoring in a cycle - a `per_device` entry of a contract of its client prices its
-- device_type (for its site or any site) and the device is active on the cycle's first
-- active day A, as the rating engine counts it - with no device event all cycle (A to the
-- cycle's last active day, site-local dates). An event belongs to the device when it comes
-- from the same source with the device's id, or, for a generic device linked by
-- `vendor_ref = <vendor source>:<id>`, from that vendor with that id.
-- Judged only for cycles the device-event feeds cover: the first event (any source) is on
-- or before A and the last one after the cycle's end, so a feed that has not started, or a
-- cycle still running, raises nothing. Evidence: the device and `cycle:<contract>/<A>`
-- (one finding per device and cycle, each with its own id). Events are read as the days
-- they happened on (int_device_event_days, dates in the event's site's timezone; device ids
-- compared case-folded) and the feeds' first and last instants through an index, so a build
-- reads devices and cycles, not every event.
with

contracts as (

    select * from {{ ref('stg_inbox__contracts') }}

),

per_device as (

    select distinct
        contracts.contract_id,
        contracts.client_id,
        contracts.start_date,
        contracts.end_date,
        contracts.billing_cycle,
        contracts.cycle_anchor,
        entry.value ->> 'device_type' as device_type,
        nullif(entry.value ->> 'site_id', '') as site_id

    from contracts
    cross join lateral jsonb_array_elements(
        coalesce(contracts.terms -> 'per_device', '[]'::jsonb)
    ) as entry (value)

),

event_days as (

    select * from {{ ref('int_device_event_days') }}

),

feed as (

    select
        ((select min(occurred_at) from {{ ref('stg_inbox__device_events') }}) at time zone 'UTC')::date as first_day,
        ((select max(occurred_at) from {{ ref('stg_inbox__device_events') }}) at time zone 'UTC')::date as last_day

),

contract_days as (

    select distinct
        per_device.contract_id,
        per_device.start_date,
        per_device.end_date,
        per_device.billing_cycle,
        case per_device.billing_cycle
            when 'daily' then day.d
            when 'weekly' then date_trunc('week', day.d)::date
            when 'biweekly'
                then
                    per_device.cycle_anchor
                    + 14 * floor((day.d - per_device.cycle_anchor) / 14.0)::integer
            when 'quarterly' then date_trunc('quarter', day.d)::date
            when 'semiannual'
                then
                    (
                        date_trunc('year', day.d)
                        + interval '6 months' * (extract(month from day.d)::integer > 6)::integer
                    )::date
            when 'annual' then date_trunc('year', day.d)::date
            else date_trunc('month', day.d)::date
        end as cycle_start

    from per_device
    cross join feed
    cross join lateral (
        select series.day::date as d
        from generate_series(
            per_device.start_date::timestamp,
            least(per_device.end_date, feed.last_day)::timestamp, interval '1 day'
        ) as series (day)
    ) as day

),

cycles as (

    select
        contract_id,
        greatest(cycle_start, start_date) as active_start,
        least(
            case billing_cycle
                when 'daily' then cycle_start
                when 'weekly' then cycle_start + 6
                when 'biweekly' then cycle_start + 13
                when 'quarterly' then (cycle_start + interval '3 months')::date - 1
                when 'semiannual' then (cycle_start + interval '6 months')::date - 1
                when 'annual' then (cycle_start + interval '1 year')::date - 1
                else (cycle_start + interval '1 month')::date - 1
            end,
            end_date
        ) as active_end

    from contract_days

),

judged_cycles as (

    select cycles.*
    from cycles
    cross join feed
    where
        feed.first_day <= cycles.active_start
        and feed.last_day > cycles.active_end

),

billed_devices as (

    select distinct
        devices.source_ref,
        devices.source,
        devices.device_id,
        devices.upstream_source,
        devices.upstream_id,
        devices.device_type,
        devices.site_id,
        devices.client_id,
        sites.timezone as site_timezone,
        per_device.contract_id,
        judged_cycles.active_start,
        judged_cycles.active_end

    from {{ ref('int_devices_located') }} as devices
    inner join {{ ref('stg_inbox__sites') }} as sites on devices.site_id = sites.site_id
    inner join per_device
        on
            devices.client_id = per_device.client_id
            and devices.device_type = per_device.device_type
            and (per_device.site_id is null or devices.site_id = per_device.site_id)
    inner join judged_cycles on per_device.contract_id = judged_cycles.contract_id
    where
        devices.active_from <= judged_cycles.active_start
        and (devices.active_to is null or devices.active_to >= judged_cycles.active_start)

)

select
    'device_fee_without_events' as type,
    billed_devices.client_id,
    billed_devices.site_id,
    billed_devices.contract_id,
    billed_devices.active_start as service_date,
    array(
        select ref
        from
            unnest(array[
                billed_devices.source_ref,
                format('cycle:%s/%s', billed_devices.contract_id, billed_devices.active_start)
            ]) as ref
        order by ref
    ) as evidence,
    format(
        'Device %s (%s at %s) is billed for monitoring by contract %s for the cycle %s..%s but reported no event all cycle.',
        billed_devices.source_ref,
        billed_devices.device_type,
        billed_devices.site_id,
        billed_devices.contract_id,
        billed_devices.active_start,
        billed_devices.active_end
    ) as message

from billed_devices
where
    not exists (
        select 1
        from event_days
        where
            event_days.source = billed_devices.source
            and event_days.device_key = lower(billed_devices.device_id)
            and event_days.event_date between billed_devices.active_start and billed_devices.active_end
    )
    and not exists (
        select 1
        from event_days
        where
            event_days.source = billed_devices.upstream_source
            and event_days.device_key = lower(billed_devices.upstream_id)
            and event_days.event_date between billed_devices.active_start and billed_devices.active_end
    )
