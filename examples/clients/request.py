"""GET /v1/records with an API key. On 429, wait the Retry-After seconds and try again.

    API_KEY=demo_... python3 request.py     (API_URL: default http://127.0.0.1:3000/v1/records)
"""
import os
import sys
import time

import requests

url = os.environ.get("API_URL", "http://127.0.0.1:3000/v1/records")
headers = {"Authorization": f"Bearer {os.environ.get('API_KEY', '')}"}

for _attempt in range(5):
    response = requests.get(url, headers=headers, timeout=10)
    if response.status_code == 429:
        retry_after = int(response.headers.get("Retry-After", "1"))
        print(f"429: retrying in {retry_after}s (Retry-After)", file=sys.stderr)
        time.sleep(retry_after)
        continue
    print(f"HTTP {response.status_code}")
    print(response.text)
    sys.exit(0 if response.ok else 1)
print("still rate-limited after 5 attempts", file=sys.stderr)
sys.exit(1)
