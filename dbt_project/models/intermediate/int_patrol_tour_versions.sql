-- The version of each patrol tour the marts use (as int_shift_versions for shifts).
{{ config(
    materialized='incremental',
    unique_key='source_ref',
    incremental_strategy='delete+insert',
    indexes=[
        {'columns': ['source_ref'], 'unique': True},
        {'columns': ['changed_build']},
        {'columns': ['duplicate_finding_id']},
        {'columns': ['source', 'tour_id']},
    ],
    post_hook=[
        "create index if not exists {{ this.name }}_duplicates on {{ this }} (source_ref) where version_count > 1",
        "create index if not exists {{ this.name }}_unknown_sites on {{ this }} (source_ref) where not site_declared",
    ],
) }}
{{ record_version_model(ref('stg_inbox__patrol_tours'), 'tour_id', 'started_at') }}
