"""How a round's plan and blobs travel: in process, or over Flower (ClientApp, ServerApp), with the node's worker, keystore and processes."""
