"""Checks a training run against PyTorch: loads the run's weights/best.pth strictly into torchvision's
ShuffleNet V2 and compares its validation probabilities with the run's val_predictions.csv.

    /usr/bin/python3 scripts/verify_run.py runs/exp1

Prints the largest difference in any probability and how many predicted classes agree.
"""
import csv
import json
import os
import sys

import torch
import torchvision
from PIL import Image

run = sys.argv[1]
info = json.load(open(os.path.join(run, 'train_info.json')))
params = info['train parameters']
classes = json.load(open(os.path.join(run, 'class_indices.json')))
model = getattr(torchvision.models, f"shufflenet_v2_{params['model']}")(num_classes=len(classes))
model.load_state_dict(torch.load(os.path.join(run, 'weights', 'best.pth'), weights_only=True), strict=True)
model.eval()
size = params['img_size']
transform = torchvision.transforms.Compose([
    torchvision.transforms.Resize(int(size * 256 / 224)), torchvision.transforms.CenterCrop(size), torchvision.transforms.ToTensor(),
    torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
worst, agree, total = 0.0, 0, 0
with open(os.path.join(run, 'val_predictions.csv')) as f:
    for row in csv.DictReader(f):
        with torch.no_grad():
            p = torch.softmax(model(transform(Image.open(row['file']).convert('RGB'))[None]), 1)[0]
        ours = [float(row[f'prob_{classes[str(k)]}']) for k in range(len(classes))]
        worst = max(worst, max(abs(a - float(b)) for a, b in zip(ours, p)))
        agree += classes[str(int(p.argmax()))] == row['prediction']
        total += 1
print(f'{run}: best.pth loaded strictly; {agree}/{total} validation predictions agree, largest probability difference {worst:.2e}')
