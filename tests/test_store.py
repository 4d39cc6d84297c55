

def test_atomic_write_follows_umask(tmp_path):
    """Results are readable by the group/others the umask allows, not owner-only like a bare mkstemp file."""
    import os
    import stat

    from tasks_lib.store import _UMASK, atomic_write_json

    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": 1})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_UMASK
