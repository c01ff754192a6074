"""
Node script of LOFAR's pythonplugin task (LOFAR's nodes/python_plugin.py), on the framework's
Python runtime (lofarpipe_node): the step's executable is a Python file whose main(*args,
**kwargs) runs inside this job, on the host of the job's data-map entry. Its arguments are the
step's (input and output keys already replaced by the entry's files) and its keyword arguments
the step's keys; the dict it returns becomes the job's outputs, which executable_args turns into
one map per key (`<step>.output.<key>.mapfile`), and a `break` in it ends a pipeline loop.

The job is the same JSON object executable_args' Node script gets (nodes/executable_args.ts):
infile, executable, args, kwargs, workDir, parsetAsFile, argsFormat.
"""
import importlib.util
import json
import os
import sys
import traceback

from lofarpipe_node import Node, run_node


def _json_value(value):
    """A returned value the master can take as JSON; anything else as Python's str() of it."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)


class python_plugin(Node):
    def run(self, job):
        infile = job['infile']
        executable = job['executable']
        args = list(job['args'])
        kwargs = dict(job['kwargs'])
        work_dir = job['workDir']
        self.logger.debug('infile = %s, executable = %s, working directory = %s', infile, executable, work_dir)
        self.logger.info('processing %s', infile)
        if not os.path.isfile(executable):
            self.logger.error('script %s not found on this host', executable)
            return 1
        os.makedirs(work_dir, exist_ok=True)
        if job.get('parsetAsFile'):
            # As LOFAR: the keys also go as a parset file, its path the first argument.
            parset = os.path.join(work_dir, os.path.basename(infile) + '.parset')
            with open(parset, 'w', encoding='utf-8') as out:
                for key, value in kwargs.items():
                    out.write('%s=%s\n' % (key, value))
            args.insert(0, parset)
        try:
            spec = importlib.util.spec_from_file_location('main', executable)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            returned = module.main(*args, **kwargs)
        except Exception as err:  # LOFAR's node script also logs the error and fails the job
            self.logger.error('%s failed: %s: %s', os.path.basename(executable), type(err).__name__, err)
            self.logger.debug(traceback.format_exc())
            return 1
        if returned:
            for key, value in dict(returned).items():
                self.outputs[str(key)] = _json_value(value)
        # The master's sign that the plugin ran to its end.
        self.outputs['ok'] = True
        return 0


if __name__ == '__main__':
    sys.exit(run_node(python_plugin))
