-- Every delivered version of the shifts recomputed in this build, reduced to what dates it:
-- guard, site and the earliest and latest instant it names (actual or scheduled). The
-- site-days and guard-weeks a look-back finding judges again are derived from these, so the
-- days a corrected shift left are judged again as well as the days it moved to.
{{ config(materialized='ephemeral') }}
select
    raw_shifts.guard_id,
    raw_shifts.site_id,
    least(raw_shifts.check_in_at, raw_shifts.scheduled_start_at) as first_at,
    greatest(raw_shifts.check_in_at, raw_shifts.check_out_at, raw_shifts.scheduled_end_at) as last_at

from {{ ref('stg_inbox__shifts') }} as raw_shifts
inner join {{ ref('int_shift_versions') }} as versions
    on raw_shifts.source = versions.source and raw_shifts.shift_id = versions.shift_id
where {{ changed_in_build('versions') }}
