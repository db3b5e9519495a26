"""The Mediator (CGrateS' CDRc): CDR files dropped in watched folders, imported once each.

``fs-cgr serve`` runs one ``FolderMediator`` per ``cdrc`` config entry
(``service.Mediator``, ``node.cdrc``): ``watcher`` says which files FreeSWITCH
has finished with, ``importer`` feeds their lines through the CDR pipeline
(``node.cdrs``) with a checkpoint per batch, writes refused lines to
``<name>.bad`` with the reason and moves the file to out_dir (with costs
appended when asked). ``formats`` turns lines of each file format into events.
"""
