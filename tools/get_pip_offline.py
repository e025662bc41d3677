"""Stand-in for ansible-test's get-pip bootstrap script, whose download host is unreachable here.

ansible-test runs it as ``python get_pip_X_Y.py [pip options] pip==X.Y [setuptools==...] [--no-setuptools]
[--no-wheel]`` inside a virtualenv made without pip. Like get-pip.py, it installs pip into that interpreter and
then the requested packages, but it takes pip from the interpreter's bundled ensurepip wheel and the rest from the
package index pip is configured with.
"""
import ensurepip
import os
import subprocess
import sys

env = dict(os.environ)

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
ensurepip.bootstrap(upgrade=True, default_pip=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the install must see the real pip config.
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args, env=env))
