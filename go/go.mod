module github.com/transferometer/transferometer

go 1.21
