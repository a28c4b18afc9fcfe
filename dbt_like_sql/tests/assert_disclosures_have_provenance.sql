-- Every disclosed figure says where it came from: source URL, locator and the value as printed.
select disclosure_id, source_id, source_url, locator, value_as_printed
from disclosures
where source_url is null
   or coalesce(trim(locator), '') = ''
   or coalesce(trim(value_as_printed), '') = ''
