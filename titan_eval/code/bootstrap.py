"""The few lines that run first in a program's own process (`python -I -S -c BOOTSTRAP SETUP`), inside the
sandbox and already as the unprivileged user (the harness drops root before it starts bwrap or the interpreter,
`code.executor`): set the rlimits (soft = hard, so the program cannot raise them; under bwrap the process limit
counts the processes of this sandbox's own user namespace), read the nonce and the program from stdin, run the
program in a fresh namespace, and print the verdict as the last line of stdout: `<nonce> passed`,
`<nonce> limit <Exception>` or `<nonce> failed <Exception>: <message>`.

The nonce (a random token the harness sends per program and the program's text never holds) tells the verdict from
anything the program prints; a program that exits early (sys.exit, os._exit) leaves no verdict and has failed,
as in lm-eval's code_eval (which counts a `SystemExit` as a failure). Forked children never print a verdict.
The program runs with a fresh empty global namespace, as lm-eval's `exec(program, {})`: its `__name__` is not
`"__main__"`. The verdict is no security boundary against a program that sets out to fake a pass (it runs in the
same interpreter, as in lm-eval); the sandbox is what protects the machine.
"""

from __future__ import annotations

BOOTSTRAP = r'''
import os, sys, json, resource
def _titan_setup():
    setup = json.loads(sys.argv[1])
    for name, value in setup["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if os.getuid() == 0 or os.geteuid() == 0:  # never model code as root: the harness drops root before exec
        os.write(2, b"titan-sandbox: refusing to run a program as root\n")
        os._exit(3)
    nonce = sys.stdin.readline().strip()
    source = sys.stdin.read()
    return nonce, source
def _titan_verdict(main_pid, nonce, text):
    if os.getpid() != main_pid:
        os._exit(1)
    sys.stdout.flush()
    os.write(1, ("\n" + nonce + " " + text + "\n").encode("utf-8", "replace"))
    os._exit(0)
def _titan_main():
    import errno
    main_pid = os.getpid()
    nonce, source = _titan_setup()
    try:
        exec(compile(source, "<program>", "exec"), {})
    except BaseException as err:
        limits = (errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.EFBIG, errno.ENOMEM, errno.ENOSPC)
        hit = isinstance(err, MemoryError) or (isinstance(err, OSError) and err.errno in limits)
        try:
            import traceback
            traceback.print_exc(limit=-3)
            sys.stderr.flush()
        except BaseException:
            pass
        message = " ".join(str(err).split())[:200]
        _titan_verdict(main_pid, nonce, ("limit " if hit else "failed ") + type(err).__name__ +
                       (": " + message if message else ""))
    _titan_verdict(main_pid, nonce, "passed")
_titan_main()
'''
"""The bootstrap's source (argv[1], SETUP: JSON {"rlimits": {resource name: value}})."""
