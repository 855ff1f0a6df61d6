"""PyTorch: safetensors weights loaded strictly into their network, or a torch.export program."""
