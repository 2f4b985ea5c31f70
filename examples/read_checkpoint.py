"""Read a tsnn checkpoint from Python with numpy alone, following the safetensors specification
(the layout safetensors.numpy.load_file reads).

    /usr/bin/python3 examples/read_checkpoint.py runs/resnet.best.safetensors
"""
import json, struct, sys
import numpy as np
path = sys.argv[1]
b = open(path, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
header = json.loads(b[8:8+n])
meta = header.pop('__metadata__')
buf = b[8+n:]
dt = {'F32': np.float32, 'I32': np.int32}
end = 0
out = {}
for name, e in sorted(header.items(), key=lambda kv: kv[1]['data_offsets'][0]):
    s0, s1 = e['data_offsets']
    assert s0 == end, (name, s0, end)
    end = s1
    out[name] = np.frombuffer(buf[s0:s1], dtype=dt[e['dtype']]).reshape(e['shape'])
assert end == len(buf)
print(len(out), 'tensors; step', meta['step'], '; config', meta['config'])
w = out['params.head.weight']
print('params.head.weight', w.shape, 'sum %.6f' % float(w.astype(np.float64).sum()))
