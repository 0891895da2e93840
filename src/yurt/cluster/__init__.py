"""Several servers on one etcd (issue 18, item 2): leader election on a lease
(`leader.py`, pure; `election.py`, on etcd), remote changes into memory (`feed.py`) and
writes forwarded to the leader (`forward.py`)."""
