-- The version of each shift the marts use (the latest, or the first when finance reviewed
-- its duplicate_record finding billed_as_is), with its version count: an incremental table,
-- recomputed only for the records ingested or reviewed since the last build.
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='delete+insert',
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['changed_build']},
        {'columns': ['duplicate_finding_id']},
        {'columns': ['source', 'shift_id']},
    ],
    post_hook=[
        "create index if not exists {{ this.name }}_duplicates on {{ this }} (source_ref) where version_count > 1",
        "create index if not exists {{ this.name }}_unknown_sites on {{ this }} (source_ref) where not site_declared",
    ],
) }}
{{ record_version_model(ref('stg_inbox__shifts'), 'shift_id', 'check_in_at') }}
