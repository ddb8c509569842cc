-- finding_id hashes the evidence, so evidence must be non-empty, sorted and without
-- duplicates for the id to be stable across runs.
select finding_id, evidence
from {{ ref('fct_findings') }}
where cardinality(evidence) = 0
    or evidence <> array(select distinct ref from unnest(evidence) as ref order by ref)
