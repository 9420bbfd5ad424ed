package filestore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps files as objects of one bucket of an S3-compatible service
// (AWS S3, MinIO, SeaweedFS, Ceph…), which every node of the desk reaches.
// It uses minio-go: small, kept, and speaking exactly the S3 subset this
// needs (put with a known size, get, stat, delete) to any such service.
type S3 struct {
	client *minio.Client
	bucket string
}

// S3Config says where the bucket is.
type S3Config struct {
	// Endpoint is the service's URL ("https://s3.example.com",
	// "http://127.0.0.1:8333"); http only for a service on this host or
	// network.
	Endpoint  string
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
}

// OpenS3 connects to the bucket, making it when it does not exist yet.
func OpenS3(ctx context.Context, cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("file store: --s3-endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: u.Scheme == "https", Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("file store: %w", err)
	}
	s := &S3{client: client, bucket: cfg.Bucket}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, unavailable(err, "find bucket "+cfg.Bucket)
	}
	if !ok {
		if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, unavailable(err, "make bucket "+cfg.Bucket)
		}
	}
	return s, nil
}

// Put uploads r as the object key; size must be known (it is: uploads are
// spooled to a file first), so one PUT suffices below minio-go's part size.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return unavailable(err, "put")
	}
	return nil
}

// Open returns the object and its size.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, unavailable(err, "open")
	}
	st, err := obj.Stat() // GetObject is lazy: Stat is where a missing key shows
	if err != nil {
		obj.Close()
		if missing(err) {
			return nil, 0, notFound(key)
		}
		return nil, 0, unavailable(err, "open")
	}
	return obj, st.Size, nil
}

// Delete removes the object; one already gone is no error (S3 says so too).
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil && !missing(err) {
		return unavailable(err, "delete")
	}
	return nil
}

func missing(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound" || strings.Contains(code, "NoSuchKey")
}
