-- The notice of reasons against granting in the ordinary procedure (L. 241/1990
-- art. 10-bis): an application waits in `reasons_notified` while the business may file
-- observations, which are filed documents of their own step. Expand only: the previous
-- release never writes the new status or step.
alter table applications drop constraint applications_status_check;
alter table applications add constraint applications_status_check check (status in (
    'effective', 'conform_ordered', 'measures_reported', 'compliant', 'consolidated',
    'prohibited', 'filed', 'under_review', 'integration_requested', 'granted',
    'granted_by_silence', 'decision_overdue', 'refused', 'reasons_notified'));
alter table applications drop constraint applications_status_fits_regime;
alter table applications add constraint applications_status_fits_regime check (
    case regime
        when 'communication' then status = 'filed'
        when 'ordinary' then status in ('under_review', 'integration_requested', 'granted',
                                        'granted_by_silence', 'decision_overdue', 'refused',
                                        'reasons_notified')
        else status in ('effective', 'conform_ordered', 'measures_reported', 'compliant',
                        'consolidated', 'prohibited')
    end);
alter table application_documents drop constraint application_documents_step_check;
alter table application_documents add constraint application_documents_step_check
    check (step in ('filing', 'integration', 'measures', 'opinion', 'observations'));
