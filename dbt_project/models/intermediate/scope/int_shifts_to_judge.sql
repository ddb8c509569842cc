-- The shifts whose shift findings (int_findings_shifts) this build judges again: those
-- recomputed in this build, and the patrol shifts around any delivered version of a patrol
-- tour recomputed in it (a tour that moved can leave a shift without scans). In a full build
-- every shift.
with

matched as (

    select * from {{ ref('int_shifts_matched_to_contracts') }}

),

longest as (

    select coalesce(max(interval_minutes), 0) as minutes from matched

),

changed_tours as (

    select
        tours.guard_id,
        tours.site_id,
        tours.started_at,
        coalesce(tours.completed_at, tours.started_at) as ended_at

    from {{ ref('stg_inbox__patrol_tours') }} as tours
    inner join {{ ref('int_patrol_tour_versions') }} as versions
        on tours.source = versions.source and tours.tour_id = versions.tour_id
    where {{ changed_in_build('versions') }}

),

near_changed_tours as (

    select matched.source_ref
    from changed_tours
    inner join matched
        on
            changed_tours.guard_id = matched.guard_id
            and changed_tours.site_id = matched.site_id
            and matched.service_type = 'patrol'
            and changed_tours.ended_at >= matched.check_in_at
            and matched.check_in_at >= changed_tours.started_at - (select minutes from longest) * interval '1 minute'

)

select
    matched.source_ref,
    {{ build_id() }} as changed_build
from matched
where {{ changed_in_build('matched') }}

union

select
    source_ref,
    {{ build_id() }} as changed_build
from near_changed_tours
