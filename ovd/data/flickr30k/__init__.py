"""The Flickr30k Entities release format: :mod:`.raw` reads the release's files, :mod:`.index` turns them into
image records and reads/writes ovd's prepared index (no mmdet import). The dataset classes are in
:mod:`ovd.data.datasets.flickr30k`, the preparer in :mod:`ovd.data.prepare.flickr30k`."""
