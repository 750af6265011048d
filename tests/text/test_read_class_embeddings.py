"""Class embeddings read from files or arrays (shared by ViLD and BARON), with their checks."""
import numpy as np
import pytest
import torch

from ovd.text.class_embeddings import read_class_embeddings


def test_npy_pt_and_array_sources_agree(tmp_path):
    emb = np.arange(1, 7, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / 'e.npy', emb)
    torch.save(torch.from_numpy(emb), tmp_path / 'e.pt')
    for source in (str(tmp_path / 'e.npy'), str(tmp_path / 'e.pt'), emb, torch.from_numpy(emb)):
        assert torch.equal(read_class_embeddings(source), torch.from_numpy(emb))


@pytest.mark.parametrize('bad, message', [
    (np.zeros((0, 4)), r'shape \[num_classes, dim\]'),
    (np.ones(4), r'shape \[num_classes, dim\]'),
    (np.array([[1.0, 0.0], [0.0, 0.0]]), 'non-finite or all-zero'),
    (np.array([[np.nan, 1.0]]), 'non-finite or all-zero'),
])
def test_bad_embeddings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        read_class_embeddings(bad)


def test_unknown_file_type_names_the_file(tmp_path):
    path = str(tmp_path / 'e.txt')
    with pytest.raises(ValueError, match='e.txt: class embeddings must be'):
        read_class_embeddings(path)
