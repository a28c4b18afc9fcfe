-- A disclosed headline is a figure some source printed: it matches a current emissions disclosure of
-- the same model, stage and source.
select r.run_id, r.emissions_tco2e, r.source_id
from training_runs as r
where r.emissions_origin = 'disclosed'
  and not exists (
      select 1
      from disclosures as d
      where d.model_id = r.model_id
        and d.stage = r.stage
        and d.source_id = r.source_id
        and d.metric = 'emissions'
        and not d.is_superseded
        and d.value = r.emissions_tco2e
  )
