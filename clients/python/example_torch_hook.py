"""Train an SAE on a PyTorch model's layer while the model runs (needs torch and transformers).

    python3 proxstream_client.py  # module next to this file
    ./proxstream serve --port 8080 &
    python3 example_torch_hook.py
"""

import torch
from transformers import AutoModel, AutoTokenizer

from proxstream_client import Client, torch_hook

name = "sentence-transformers/all-MiniLM-L6-v2"
tok = AutoTokenizer.from_pretrained(name)
model = AutoModel.from_pretrained(name).eval()

client = Client("http://127.0.0.1:8080", run="minilm-layer5")
try:
    client.create_run(input_dim=model.config.hidden_size, sae={"latents": 3072, "k": 32})
except Exception as e:  # already exists after a restart: keep training it
    print(e)

handle = model.encoder.layer[5].register_forward_hook(torch_hook(client))
texts = ["The quick brown fox jumps over the lazy dog."] * 64
with torch.no_grad():
    for _ in range(100):
        model(**tok(texts, return_tensors="pt", padding=True))
handle.remove()
print(client.status())
client.export("minilm-layer5-sae")
