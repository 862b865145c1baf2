"""The seeds' second quick start, "Decode a Time Range", with h4mk's imports
(run build_container.py first: it writes audio.h4mk)."""
from h4mk.seeds import get_decode_chain, extract, unwrap_core_payload
from h4mk.adapters import NullAdapter

container = open("audio.h4mk", "rb").read()
adapter = NullAdapter()

# Get decode chain for 100ms
chain = get_decode_chain(container, track_id=1, t_ms=100)

state = None
for chunk_idx in chain:
    payload = extract(container, chunk_idx)
    track_id, opaque = unwrap_core_payload(payload)

    if state is None:
        state = adapter.decode_I(opaque)
    else:
        state = adapter.apply_P(state, opaque)

output = adapter.finalize(state)
print(output)
