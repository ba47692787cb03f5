"""Airlock's vLLM launcher. Run:  /usr/bin/python3 -I -B airlock-vllm.py --model DIR [vLLM options]

Puts the site-packages folder beside this file first on sys.path (-I ignores PYTHONPATH and the
user site) and runs vLLM's OpenAI-compatible API server module as __main__. Processes that
multiprocessing spawns get this sys.path (and -I -B) from their parent; vLLM also starts plain
`sys.executable -m MODULE` children (its model registry probe), which get no flags: for them the
same folder goes into PYTHONPATH, with no .pyc writing, no user site and no unsafe path entry.
"""
import os
import sys

SITE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site-packages")
sys.path.insert(0, SITE)

if __name__ == "__main__":
    import runpy

    os.environ["PYTHONPATH"] = SITE
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ["PYTHONNOUSERSITE"] = "1"
    os.environ["PYTHONSAFEPATH"] = "1"
    sys.argv[0] = "airlock-vllm"
    runpy.run_module("vllm.entrypoints.openai.api_server", run_name="__main__", alter_sys=True)
