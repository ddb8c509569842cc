-- Incremental marts (issue 14): each dbt build the orchestration starts is recorded here.
-- A build reads what changed since the watermark of the last build that succeeded
-- (`since`: record versions ingested, reviews made at or after it) and sets its own
-- watermark, taken before it reads anything, to the start of the oldest transaction still
-- open then, so a record committed late is read by the next build. A full build rebuilds
-- everything; it runs when contracts, tax or the dbt project changed, and periodically.
create table vigil_meta.mart_builds (
    build_id        bigserial   primary key,
    mode            text        not null check (mode in ('full', 'incremental')),
    reason          text        not null,
    since           timestamptz not null,
    watermark       timestamptz not null,
    inputs          jsonb       not null,          -- what a change of forces a full build
    -- partial: some models only (a selection in the UI): the next build reads from the same since
    status          text        not null default 'running'
                                check (status in ('running', 'succeeded', 'partial', 'failed')),
    -- a periodic full build: the marts' digests before (the incremental result) and after it
    digests_before  jsonb,
    digests_after   jsonb,
    started_at      timestamptz not null default now(),
    finished_at     timestamptz
);

-- What a build reads as changed, without scanning history.
create index timesheets_by_ingested_at on raw.timesheets (ingested_at);
create index patrols_by_ingested_at on raw.patrols (ingested_at);
create index incidents_by_ingested_at on raw.incidents (ingested_at);
create index devices_by_ingested_at on raw.devices (ingested_at);
create index device_events_by_ingested_at on raw.device_events (ingested_at);
create index finding_reviews_by_reviewed_at on billing.finding_reviews (reviewed_at);
-- The first day with data (vigil.clock.first_data_day: the daily partitions start there).
create index timesheets_by_check_in_at on raw.timesheets (check_in_at);
create index incidents_by_response_started_at on raw.incidents (response_started_at);
create index patrols_by_started_at on raw.patrols (started_at);
-- A device's events by day, and the few events a connector flagged as ambiguous local time.
create index device_events_by_device on raw.device_events (source, lower(device_id), occurred_at);
create index device_events_by_occurred_at on raw.device_events (occurred_at);
create index device_events_ambiguous on raw.device_events (source, record_id)
    where extra ->> 'ambiguous_local_time' = 'true';
