-- Every figure's source is a row of `sources`.
select d.disclosure_id, d.source_id
from disclosures as d
anti join sources as s using (source_id)
