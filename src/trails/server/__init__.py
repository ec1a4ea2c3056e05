"""The trails server: one process per TRAILS_HOME that every front end talks to.

It hosts the engine, the supervisor's watch over live sessions (in its own thread) and the event
feed, and answers requests on a Unix socket (the protocol: trails.api.protocol). Each connection has
its own thread, and each long operation (a create that builds an image, a run, a merge, a pull
request) its own job, with progress and cancellation, so one slow request never stalls the others.

    process.py   the process: one per home (a lock), the socket, a thread per connection
    service.py   a request → the engine operation it names, with the caller it came from
    jobs.py      long operations: progress and cancellation
    monitor.py   the supervisor's watch, in a thread
    feed.py      stored events to subscribers, in id order, exactly once
    runjob.py    `run` in a child process with the caller's environment and directory

Started on demand by the client (trails.api.client) as `python -m trails.server`, detached.
"""
